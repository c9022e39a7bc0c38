package app

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestBuildFrom(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "474e66221b3149793b8ee165d7c3e6585a0081b2"},
		{Key: "vcs.time", Value: "2026-12-01T11:38:40Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	b := buildFrom(bi)
	want := "authserver v1.2.0 474e66221b3149793b8ee165d7c3e6585a0081b2+modified 2026-12-01T11:38:40Z " + runtime.Version()
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	if b := buildFrom(nil); b.String() != "authserver unknown "+runtime.Version() {
		t.Errorf("without build info: %q", b.String())
	}
}
