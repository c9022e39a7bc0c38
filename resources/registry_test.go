package resources

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingStore is an in-memory Store that counts reads.
type countingStore struct {
	mu    sync.Mutex
	m     map[string]Resource
	reads atomic.Int64
}

func (s *countingStore) CreateResource(_ context.Context, r Resource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[r.ID]; ok {
		return ErrExists
	}
	s.m[r.ID] = r
	return nil
}

func (s *countingStore) GetResource(_ context.Context, id string) (Resource, error) {
	s.reads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[id]
	if !ok {
		return r, ErrNotFound
	}
	return r, nil
}

func (s *countingStore) ListResources(context.Context) ([]Resource, error) { return nil, nil }

func (s *countingStore) DeleteResource(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[id]; !ok {
		return ErrNotFound
	}
	delete(s.m, id)
	return nil
}

// The token endpoint resolves a request's resources from memory: after
// the first request, repeated resources cost no store read, and a delete
// is seen at once.
func TestRegistryCaches(t *testing.T) {
	ctx := context.Background()
	st := &countingStore{m: map[string]Resource{}}
	reg := NewRegistry(st, nil, time.Minute, nil)
	for _, id := range []string{"https://a.example/", "https://b.example/"} {
		if _, err := reg.Create(ctx, Resource{ID: id, Name: "n", Scopes: []string{"s"}}); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{"https://a.example/", "https://b.example/"}
	for range 100 {
		rs, err := reg.Resolve(ctx, ids)
		if err != nil || len(rs) != 2 {
			t.Fatalf("Resolve: %v %v", rs, err)
		}
		rs[0].Scopes[0] = "changed by the caller" // must not reach the cache
	}
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("100 resolutions of 2 resources read the store %d times, want 2", n)
	}
	if r, _ := reg.Get(ctx, ids[0]); r.Scopes[0] != "s" {
		t.Fatalf("a caller changed the cached record: %v", r.Scopes)
	}
	if err := reg.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Resolve(ctx, ids); !errors.Is(err, ErrUnknown) {
		t.Fatalf("after delete: %v, want ErrUnknown", err)
	}
	// A nil registry knows none.
	var none *Registry
	if _, err := none.Resolve(ctx, ids[1:]); !errors.Is(err, ErrUnknown) {
		t.Fatalf("nil registry: %v", err)
	}
}
