package main

import (
	"context"
	"testing"
)

func TestKeysRotate(t *testing.T) {
	s := newAdminServer(t)
	before, err := s.store.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := run1(runKeys, "", withConn(s, "rotate")...).ok(t).json(t)["kid"].(string)
	after, err := s.store.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if kid == "" || len(after) != len(before)+1 || after[len(after)-1].ID != kid {
		t.Errorf("rotate printed kid %q; keys %d -> %d", kid, len(before), len(after))
	}
	run1(runKeys, "", "rotate", "--admin-url", s.url, "--admin-token", "wrong").failed(t, 1, "authserver: rotate keys: ")
}
