package corroborate

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
)

// DefaultWitnesses is how many peers are asked about one subject. Three
// survive one witness that is itself sick or partitioned, and keep the cost
// of a suspicion constant whatever the group's size.
const DefaultWitnesses = 3

// Witnesses picks up to k peers to ask about subject, from the candidates
// (the group's other members that the asking replica itself finds healthy:
// a peer it cannot reach cannot report either). The choice is rendezvous
// hashing on (subject, peer), so every replica asks the same peers about the
// same subject and their judgements agree; a peer's leaving moves only the
// subjects it witnessed.
func Witnesses(subject string, candidates []string, k int) []string {
	if k <= 0 {
		k = DefaultWitnesses
	}
	type scored struct {
		name  string
		score uint64
	}
	var s []scored
	seen := map[string]bool{subject: true}
	for _, c := range candidates {
		if seen[c] {
			continue
		}
		seen[c] = true
		sum := sha256.Sum256([]byte(subject + "\x00" + c))
		s = append(s, scored{c, binary.BigEndian.Uint64(sum[:8])})
	}
	sort.Slice(s, func(i, j int) bool {
		if s[i].score != s[j].score {
			return s[i].score > s[j].score
		}
		return s[i].name < s[j].name
	})
	if len(s) > k {
		s = s[:k]
	}
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.name
	}
	return out
}
