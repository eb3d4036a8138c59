package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// run is one timed tool run of bench/rebase.sh.
type run struct {
	label   string
	kind    string // rebase, noop or trial (not in the tables' floor columns)
	seconds float64
	images  int
	kinds   map[string]int // requests by kind
	total   int
}

// report reads the script's runs file (label<TAB>kind<TAB>seconds<TAB>images,
// one run a line) and the proxy's request log, and prints markdown tables:
// time and requests per run next to the protocol floor, then requests by kind.
func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	logPath := fs.String("log", "", "the proxy's request log")
	runsPath := fs.String("runs", "", "the script's runs file")
	platforms := fs.Int("platforms", 2, "platform images per image")
	baseLayers := fs.Int("base-layers", 2, "layers of each platform image of the base")
	baseBlobs := fs.Int("base-blobs", 0, "distinct layer blobs of the new base over all platforms (default: platforms*base-layers)")
	baseline := fs.String("baseline", "", "label of the run the others' speed is compared with")
	fs.Parse(args)
	if *logPath == "" || *runsPath == "" {
		return errors.New("-log and -runs are required")
	}
	runs, err := readRuns(*runsPath)
	if err != nil {
		return err
	}
	if err := countRequests(*logPath, runs); err != nil {
		return err
	}
	var base *run
	for _, r := range runs {
		if r.label == *baseline {
			base = r
		}
	}

	f := floors{P: *platforms, N: *baseLayers, B: *baseBlobs}
	if f.B == 0 {
		f.B = f.P * f.N
	}
	printRuns(runs, f, base, *baseline)
	printKinds(runs)
	return nil
}

// floors is the protocol floor of a setup: P platform images an image, N
// base layers a platform, B distinct new-base layer blobs over all
// platforms.
type floors struct{ P, N, B int }

func (f floors) of(r *run) int {
	switch r.kind {
	case "noop":
		// One GET per manifest (index and children), one GET of the base
		// tag and, per run, of its child for each platform: an image is
		// up to date when its layers start with the current base's.
		return r.images*(1+f.P) + 1 + f.P
	case "rebase":
		// Per platform image: manifest GET, config GET, N blob mounts,
		// config upload, manifest PUT (5+N), except that a layer the
		// platforms' bases share is mounted once per image; per image:
		// index GET and PUT. Once per run: the base tag, and per platform
		// the old and new base manifests and configs.
		return r.images*(2+4*f.P+f.B) + 1 + 4*f.P
	}
	return 0
}

// printRuns prints time and requests per run next to the floor.
func printRuns(runs []*run, f floors, base *run, baseline string) {
	fmt.Printf("| run | wall | requests | per image | per platform image | floor | x floor | speed vs %s |\n", baseline)
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range runs {
		if r.kind == "trial" {
			continue
		}
		fl := f.of(r)
		speed := "-"
		if base != nil && r.kind == base.kind && r.seconds > 0 {
			speed = fmt.Sprintf("%.1fx", base.seconds/r.seconds)
		}
		fmt.Printf("| %s | %.2f s | %d | %.1f | %.1f | %d | %.2fx | %s |\n", r.label, r.seconds, r.total,
			float64(r.total)/float64(r.images), float64(r.total)/float64(r.images*f.P), fl,
			float64(r.total)/float64(fl), speed)
	}
	fmt.Printf("\nfloor: no-op images*(1+%d) + 1 + %d; rebase images*(2 + %d*4 + %d) + 1 + 4*%d: per image index GET+PUT, per platform image manifest GET, config GET, config upload, manifest PUT, %d mounts of the new base's %d distinct layer blobs (%d a platform), per run the base tag and the old and new base's manifest and config per platform; the no-op's per run the base tag and its manifest per platform\n", f.P, f.P, f.P, f.B, f.P, f.B, f.B, f.N)
	for _, r := range runs {
		if r.kind == "trial" {
			fmt.Printf("trial %q: %d requests, %.2f s\n", r.label, r.total, r.seconds)
		}
	}
	fmt.Println()
}

// printKinds prints the requests of each run (trials aside) by kind.
func printKinds(all []*run) {
	var runs []*run
	for _, r := range all {
		if r.kind != "trial" {
			runs = append(runs, r)
		}
	}
	var kinds []string
	seen := map[string]bool{}
	for _, r := range runs {
		for k := range r.kinds {
			if !seen[k] {
				seen[k] = true
				kinds = append(kinds, k)
			}
		}
	}
	sort.Strings(kinds)
	fmt.Print("| request |")
	for _, r := range runs {
		fmt.Printf(" %s |", r.label)
	}
	fmt.Print("\n| --- |")
	for range runs {
		fmt.Print(" ---: |")
	}
	fmt.Println()
	for _, k := range kinds {
		fmt.Printf("| %s |", k)
		for _, r := range runs {
			fmt.Printf(" %d |", r.kinds[k])
		}
		fmt.Println()
	}
}

func readRuns(path string) ([]*run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []*run
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 4 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		secs, err := strconv.ParseFloat(fields[2], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		images, err := strconv.Atoi(fields[3])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		runs = append(runs, &run{label: fields[0], kind: fields[1], seconds: secs, images: images, kinds: map[string]int{}})
	}
	return runs, sc.Err()
}

// countRequests attributes each logged request to the run whose
// "#mark start LABEL" and "#mark end LABEL" lines enclose it. A request that
// failed (4xx, 5xx) is counted under its kind and status.
func countRequests(path string, runs []*run) error {
	byLabel := map[string]*run{}
	for _, r := range runs {
		byLabel[r.label] = r
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var cur *run
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if fields[0] == "#mark" && len(fields) > 1 {
			what, label, _ := strings.Cut(fields[1], " ")
			switch what {
			case "start":
				cur = byLabel[label]
			case "end":
				cur = nil
			}
			continue
		}
		if cur == nil || len(fields) < 2 {
			continue
		}
		kind := fields[0]
		if status, _ := strconv.Atoi(fields[1]); status >= 400 {
			kind += " -> " + fields[1]
		}
		cur.kinds[kind]++
		cur.total++
	}
	return sc.Err()
}
