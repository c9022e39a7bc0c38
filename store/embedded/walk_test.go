package embedded

import (
	"bytes"
	"context"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Walk sees buckets this package does not create, nested ones too.
func TestWalkVisitsEveryBucket(t *testing.T) {
	s, _ := openTemp(t)
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSessions).Put([]byte("k1"), []byte("v1")); err != nil {
			return err
		}
		b, err := tx.CreateBucket([]byte("unknown"))
		if err != nil {
			return err
		}
		nested, err := b.CreateBucket([]byte("inner"))
		if err != nil {
			return err
		}
		return nested.Put([]byte("k2"), []byte("v2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = s.Walk(context.Background(), func(path [][]byte, k, v []byte) error {
		got = append(got, string(bytes.Join(path, []byte("/")))+"|"+string(k)+"="+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(got, " ")
	for _, want := range []string{"sessions|k1=v1", "|unknown=", "unknown|inner=", "unknown/inner|k2=v2", "|" + string(bucketIATs) + "="} {
		if !strings.Contains(" "+all+" ", " "+want+" ") {
			t.Errorf("Walk did not yield %q; got %s", want, all)
		}
	}
}
