package app

import (
	"runtime"
	"runtime/debug"
)

// Build says what binary this is: the module version (a tag, or "(devel)"
// for a build from a work tree), the VCS revision and time the go tool
// stamped into it, and the Go version it was built with.
type Build struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

// BuildInfo reads Build from the binary's embedded build information.
func BuildInfo() Build {
	bi, _ := debug.ReadBuildInfo()
	return buildFrom(bi)
}

// buildFrom is BuildInfo from bi, which may be nil (a binary without it).
func buildFrom(bi *debug.BuildInfo) Build {
	b := Build{Version: "unknown", GoVersion: runtime.Version()}
	if bi == nil {
		return b
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one line `authserver version` prints.
func (b Build) String() string {
	s := "authserver " + b.Version
	if b.Revision != "" {
		s += " " + b.Revision
		if b.Modified {
			s += "+modified"
		}
	}
	if b.Time != "" {
		s += " " + b.Time
	}
	return s + " " + b.GoVersion
}
