package rebase

import (
	"slices"
	"testing"
)

// The config merge, field by field: old base, image, new base in; the
// image's config object, the changes and the warnings out.
func TestMergeConfig(t *testing.T) {
	for _, c := range []struct {
		name          string
		old, img, new string // the bases' and the image's "config" objects
		want          string // the image's after the merge, byte for byte
		changes       []string
		warnings      []string
	}{{
		name:    "inherited User follows the new base",
		old:     `{"User":"0"}`,
		img:     `{"User":"0","Entrypoint":["/app"]}`,
		new:     `{"User":"65532"}`,
		want:    `{"User":"65532","Entrypoint":["/app"]}`,
		changes: []string{`User "0" -> "65532"`},
	}, {
		name:    "User the base did not set, then set",
		old:     `{}`,
		img:     `{"Entrypoint":["/app"]}`,
		new:     `{"User":"nonroot"}`,
		want:    `{"Entrypoint":["/app"],"User":"nonroot"}`,
		changes: []string{`User (unset) -> "nonroot"`},
	}, {
		name:    "User the new base drops",
		old:     `{"User":"65532","WorkingDir":"/home"}`,
		img:     `{"User":"65532","WorkingDir":"/home","Entrypoint":["/app"]}`,
		new:     `{"User":""}`,
		want:    `{"Entrypoint":["/app"]}`,
		changes: []string{`User "65532" -> (unset)`, `WorkingDir "/home" -> (unset)`},
	}, {
		name: "the image's own User is kept",
		old:  `{"User":"0"}`,
		img:  `{"User":"1000"}`,
		new:  `{"User":"0"}`,
		want: `{"User":"1000"}`,
	}, {
		name:     "the image's own User is kept, with a warning when the base changed it",
		old:      `{"User":"0"}`,
		img:      `{"User":"1000"}`,
		new:      `{"User":"65532"}`,
		want:     `{"User":"1000"}`,
		warnings: []string{`config User: kept the image's "1000", but the new base changed it too ("0" -> "65532"): rebuild the image if it should follow`},
	}, {
		name:     "PATH changed by the image and by the new base: the image's, with a warning",
		old:      `{"Env":["PATH=/usr/bin:/bin","LANG=C"]}`,
		img:      `{"Env":["PATH=/usr/bin:/bin:/ko-app","LANG=C","KO_DATA_PATH=/var/run/ko"]}`,
		new:      `{"Env":["PATH=/usr/local/bin:/usr/bin:/bin","LANG=C.UTF-8"]}`,
		want:     `{"Env":["PATH=/usr/bin:/bin:/ko-app","LANG=C.UTF-8","KO_DATA_PATH=/var/run/ko"]}`,
		changes:  []string{`Env LANG "C" -> "C.UTF-8"`},
		warnings: []string{`config Env PATH: kept the image's "/usr/bin:/bin:/ko-app", but the new base changed it too ("/usr/bin:/bin" -> "/usr/local/bin:/usr/bin:/bin"): rebuild the image if it should follow`},
	}, {
		name:    "Env variables added and removed by the new base",
		old:     `{"Env":["PATH=/bin","OLD=1"]}`,
		img:     `{"Env":["PATH=/bin","OLD=1","APP=x"]}`,
		new:     `{"Env":["HOME=/home/nonroot","PATH=/bin","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"]}`,
		want:    `{"Env":["PATH=/bin","HOME=/home/nonroot","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt","APP=x"]}`,
		changes: []string{`Env OLD "1" -> (unset)`, `Env HOME (unset) -> "/home/nonroot"`, `Env SSL_CERT_FILE (unset) -> "/etc/ssl/certs/ca-certificates.crt"`},
	}, {
		name:    "Env of a base that had none",
		old:     `{}`,
		img:     `{"Env":["APP=x"]}`,
		new:     `{"Env":["PATH=/bin"]}`,
		want:    `{"Env":["PATH=/bin","APP=x"]}`,
		changes: []string{`Env PATH (unset) -> "/bin"`},
	}, {
		name:    "a variable the new base adds goes after those of the old base, changed or not",
		old:     `{"Env":["PATH=/usr/bin:/bin"]}`,
		img:     `{"Env":["PATH=/usr/bin:/bin:/ko-app","KO_DATA_PATH=/var/run/ko"]}`,
		new:     `{"Env":["PATH=/usr/bin:/bin","HOME=/home/nonroot"]}`,
		want:    `{"Env":["PATH=/usr/bin:/bin:/ko-app","HOME=/home/nonroot","KO_DATA_PATH=/var/run/ko"]}`,
		changes: []string{`Env HOME (unset) -> "/home/nonroot"`},
	}, {
		name:     "an image Env variable the new base adds with another value",
		old:      `{"Env":["PATH=/bin"]}`,
		img:      `{"Env":["PATH=/bin","HOME=/app"]}`,
		new:      `{"Env":["PATH=/bin","HOME=/home/nonroot"]}`,
		want:     `{"Env":["PATH=/bin","HOME=/app"]}`,
		warnings: []string{`config Env HOME: kept the image's "/app", but the new base changed it too ((unset) -> "/home/nonroot"): rebuild the image if it should follow`},
	}, {
		name:     "an Env listing a variable twice is kept as it is",
		old:      `{"Env":["PATH=/bin"]}`,
		img:      `{"Env":["PATH=/bin","A=1","A=2"]}`,
		new:      `{"Env":["PATH=/usr/bin"]}`,
		want:     `{"Env":["PATH=/bin","A=1","A=2"]}`,
		warnings: []string{`config Env: kept the image's as it is: the image config lists A twice`},
	}, {
		name:    "labels: inherited updated, own kept, added, removed",
		old:     `{"Labels":{"org.opencontainers.image.version":"1","base.only":"x"}}`,
		img:     `{"Labels":{"app":"<mine>","org.opencontainers.image.version":"1","base.only":"x"}}`,
		new:     `{"Labels":{"org.opencontainers.image.version":"2","base.new":"y"}}`,
		want:    `{"Labels":{"app":"<mine>","org.opencontainers.image.version":"2","base.new":"y"}}`,
		changes: []string{`Labels org.opencontainers.image.version "1" -> "2"`, `Labels base.only "x" -> (unset)`, `Labels base.new (unset) -> "y"`},
	}, {
		name:    "exposed ports and volumes by key",
		old:     `{"ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}}}`,
		img:     `{"ExposedPorts":{"80/tcp":{},"8080/tcp":{}},"Volumes":{"/data":{}}}`,
		new:     `{"ExposedPorts":{"443/tcp":{}},"Volumes":null}`,
		want:    `{"ExposedPorts":{"8080/tcp":{},"443/tcp":{}},"Volumes":{}}`,
		changes: []string{`ExposedPorts 80/tcp {} -> (unset)`, `ExposedPorts 443/tcp (unset) -> {}`, `Volumes /data {} -> (unset)`},
	}, {
		name:    "StopSignal, Shell and Healthcheck follow",
		old:     `{"StopSignal":"SIGTERM","Shell":["/bin/sh","-c"]}`,
		img:     `{"StopSignal":"SIGTERM","Shell":["/bin/sh","-c"]}`,
		new:     `{"StopSignal":"SIGQUIT","Shell":["/bin/bash","-c"],"Healthcheck":{"Test":["NONE"]}}`,
		want:    `{"StopSignal":"SIGQUIT","Shell":["/bin/bash","-c"],"Healthcheck":{"Test":["NONE"]}}`,
		changes: []string{`StopSignal "SIGTERM" -> "SIGQUIT"`, `Shell ["/bin/sh","-c"] -> ["/bin/bash","-c"]`, `Healthcheck (unset) -> {"Test":["NONE"]}`},
	}, {
		name:    "neither Entrypoint nor Cmd set by the image: both the new base's",
		old:     `{"Entrypoint":["/bin/sh"],"Cmd":["-c","true"]}`,
		img:     `{"Entrypoint":["/bin/sh"],"Cmd":["-c","true"]}`,
		new:     `{"Cmd":["/bin/bash"]}`,
		want:    `{"Cmd":["/bin/bash"]}`,
		changes: []string{`Entrypoint ["/bin/sh"] -> (unset)`, `Cmd ["-c","true"] -> ["/bin/bash"]`},
	}, {
		name: "the image set Entrypoint, so Cmd was reset: both kept, the new base's Cmd ignored",
		old:  `{"Cmd":["/bin/sh"]}`,
		img:  `{"Entrypoint":["/ko-app/app"],"Cmd":null}`,
		new:  `{"Cmd":["/bin/bash"]}`,
		want: `{"Entrypoint":["/ko-app/app"],"Cmd":null}`,
	}, {
		name: "the image set Entrypoint and Cmd: both kept",
		old:  `{"Entrypoint":["/bin/sh","-c"],"Cmd":["sh"]}`,
		img:  `{"Entrypoint":["/app"],"Cmd":["--serve"]}`,
		new:  `{"Entrypoint":["/bin/sh","-c"],"Cmd":["bash"]}`,
		want: `{"Entrypoint":["/app"],"Cmd":["--serve"]}`,
	}, {
		name:    "the image set Cmd only: the new base's Entrypoint, the image's Cmd",
		old:     `{"Entrypoint":["/usr/bin/tini","--"]}`,
		img:     `{"Entrypoint":["/usr/bin/tini","--"],"Cmd":["/app"]}`,
		new:     `{"Entrypoint":["/sbin/tini","--"]}`,
		want:    `{"Entrypoint":["/sbin/tini","--"],"Cmd":["/app"]}`,
		changes: []string{`Entrypoint ["/usr/bin/tini","--"] -> ["/sbin/tini","--"]`},
	}, {
		name: "nothing changed in the base: the bytes stay",
		old:  `{"User":"0","Env":["PATH=/bin"]}`,
		img:  `{"User":"0",  "Env":[ "PATH=/bin", "X=<y>" ],"OnBuild":null,"ArgsEscaped":true}`,
		new:  `{"User":"0","Env":["PATH=/bin"]}`,
		want: `{"User":"0",  "Env":[ "PATH=/bin", "X=<y>" ],"OnBuild":null,"ArgsEscaped":true}`,
	}, {
		name:    "other members keep their place and bytes",
		old:     `{"User":"0"}`,
		img:     `{"Hostname":"","User":"0","Env":[ "X=<y>" ],"OnBuild":null,"ArgsEscaped":true,"x-custom":{"b":1, "a":2}}`,
		new:     `{"User":"65532"}`,
		want:    `{"Hostname":"","User":"65532","Env":["X=<y>"],"OnBuild":null,"ArgsEscaped":true,"x-custom":{"b":1,"a":2}}`,
		changes: []string{`User "0" -> "65532"`},
	}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := mustObject(t, `{"architecture":"amd64","config":`+c.img+`,"os":"linux"}`)
			m, err := mergeConfig(cfg, mustObject(t, `{"config":`+c.old+`}`), mustObject(t, `{"config":`+c.new+`}`))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.changes) == 0 {
				// Not rewritten at all: the input's bytes.
				if got := string(cfg.raw("config")); got != c.want {
					t.Errorf("config %s, want %s", got, c.want)
				}
			} else {
				b, _ := cfg.bytes()
				if want := `{"architecture":"amd64","config":` + c.want + `,"os":"linux"}`; string(b) != want {
					t.Errorf("config\n got %s\nwant %s", b, want)
				}
			}
			var changes []string
			for _, ch := range m.changes {
				changes = append(changes, ch.String())
			}
			if !slices.Equal(changes, c.changes) {
				t.Errorf("changes\n got %q\nwant %q", changes, c.changes)
			}
			if !slices.Equal(m.warnings, c.warnings) {
				t.Errorf("warnings\n got %q\nwant %q", m.warnings, c.warnings)
			}
		})
	}
}

func mustObject(t *testing.T, s string) *object {
	t.Helper()
	o, err := parseObject([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return o
}
