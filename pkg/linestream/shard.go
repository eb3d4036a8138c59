package linestream

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/pipeline"
)

// Shard is a share of the distinct references of a stream, for running one
// stream as several processes (a Kubernetes Indexed Job, a CI matrix):
// shard Index of Count (Index counts from 0, as JOB_COMPLETION_INDEX does)
// takes the references whose hash falls on it. The same reference always
// falls in the same shard, whatever the input order, so every distinct
// reference is worked on by exactly one shard. The zero Shard takes all.
type Shard struct {
	Index, Count int
}

// ParseShard parses "I/N", 0 <= I < N.
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	idx, err1 := strconv.Atoi(i)
	cnt, err2 := strconv.Atoi(n)
	switch {
	case !ok || err1 != nil || err2 != nil || strings.ContainsAny(s, "+ "):
		return Shard{}, fmt.Errorf("%q: want I/N, shard I (counting from 0, as JOB_COMPLETION_INDEX) of N, e.g. 0/4", s)
	case cnt < 1:
		return Shard{}, fmt.Errorf("%q: the shard count N must be at least 1", s)
	case idx < 0 || idx >= cnt:
		return Shard{}, fmt.Errorf("%q: the shard index I counts from 0 and must be below N: 0 to %d", s, cnt-1)
	}
	return Shard{Index: idx, Count: cnt}, nil
}

// String is "I/N", or "" for the zero Shard.
func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Has reports whether ref (a trimmed reference) falls in the shard: the
// first 8 bytes of its SHA-256, big-endian, modulo Count. (A cheap hash
// such as FNV-1a mixes its low bits badly: references that differ only in
// their digest piled up in one shard.)
func (s Shard) Has(ref string) bool {
	if s.Count <= 1 {
		return true
	}
	h := sha256.Sum256([]byte(ref))
	return binary.BigEndian.Uint64(h[:8])%uint64(s.Count) == uint64(s.Index)
}

// takes says whether a sharded stream takes the slot: its reference falls
// in the shard; a line too long to be a reference falls in shard 0 (it
// fails there, once); blank and comment lines in none (a shard prints pairs
// alone).
func (s Shard) takes(sl *slot) bool {
	switch {
	case s.Count == 0:
		return true
	case sl.res.Err != nil:
		return s.Index == 0
	case pipeline.Ignored(sl.ref):
		return false
	}
	return s.Has(sl.ref)
}

// skipRest reads past the rest of a long line another shard answers.
func skipRest(br *bufio.Reader) error {
	for {
		_, err := br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}
