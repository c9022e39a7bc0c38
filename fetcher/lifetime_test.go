package fetcher_test

import (
	"net/http"
	"testing"
	"time"

	"authserver/fetcher"
)

func TestLifetime(t *testing.T) {
	fetched := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	date := fetched.Add(-time.Hour) // the server's clock is an hour behind ours
	httpTime := func(t time.Time) string { return t.Format(http.TimeFormat) }
	const lo, hi = time.Minute, time.Hour
	cases := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"no header", http.Header{}, lo},
		{"max-age", http.Header{"Cache-Control": {"public, max-age=600"}}, 10 * time.Minute},
		{"max-age quoted, capitals", http.Header{"Cache-Control": {`Max-Age="600"`}}, 10 * time.Minute},
		{"max-age below min", http.Header{"Cache-Control": {"max-age=5"}}, lo},
		{"max-age above max", http.Header{"Cache-Control": {"max-age=86400"}}, hi},
		{"max-age huge", http.Header{"Cache-Control": {"max-age=99999999999999999"}}, hi},
		{"max-age invalid", http.Header{"Cache-Control": {"max-age=soon"}}, lo},
		{"s-maxage ignored", http.Header{"Cache-Control": {"s-maxage=3000, max-age=600"}}, 10 * time.Minute},
		{"s-maxage alone", http.Header{"Cache-Control": {"s-maxage=3000"}}, lo},
		{"no-store", http.Header{"Cache-Control": {"max-age=600, no-store"}}, lo},
		{"no-cache", http.Header{"Cache-Control": {"no-cache"}, "Expires": {httpTime(fetched.Add(time.Hour))}}, lo},
		{"two Cache-Control lines", http.Header{"Cache-Control": {"public", "max-age=900"}}, 15 * time.Minute},
		{"max-age beats Expires", http.Header{"Cache-Control": {"max-age=600"}, "Expires": {httpTime(fetched.Add(30 * time.Minute))}}, 10 * time.Minute},
		{"Expires against FetchedAt", http.Header{"Expires": {httpTime(fetched.Add(30 * time.Minute))}}, 30 * time.Minute},
		{"Expires against Date", http.Header{"Date": {httpTime(date)}, "Expires": {httpTime(date.Add(20 * time.Minute))}}, 20 * time.Minute},
		{"Expires past", http.Header{"Expires": {httpTime(fetched.Add(-time.Hour))}}, lo},
		{"Expires invalid", http.Header{"Expires": {"0"}}, lo},
		{"Age subtracted", http.Header{"Cache-Control": {"max-age=1200"}, "Age": {"300"}}, 15 * time.Minute},
	}
	for _, c := range cases {
		r := &fetcher.Response{StatusCode: 200, Header: c.header, FetchedAt: fetched}
		if got := r.Lifetime(lo, hi); got != c.want {
			t.Errorf("%s: Lifetime = %v, want %v", c.name, got, c.want)
		}
	}
}
