package sid

// Keys is the packed form the Trie is built from: for item i, the W=Width
// uint16 values Keys[i*W : (i+1)*W] are its type index, then its semantic
// codes, then its collision code.
type Keys struct {
	Width int // 1 + number of code levels (semantic levels + collision level)
	Data  []uint16
}

// Len is the number of items.
func (k Keys) Len() int {
	if k.Width == 0 {
		return 0
	}
	return len(k.Data) / k.Width
}

// Append adds one item's key (type index, then all codes).
func (k *Keys) Append(typeIndex int, codes []int) {
	k.Data = append(k.Data, uint16(typeIndex))
	for _, c := range codes {
		k.Data = append(k.Data, uint16(c))
	}
}

// Constraint says which items a request may still emit. The zero value
// allows every available item.
type Constraint struct {
	// Filter holds the sorted ordinals the request's filter allows; nil
	// means no filter. An empty non-nil slice allows nothing.
	Filter []uint32
	// Exclude holds sorted ordinals that must not be emitted (items already
	// emitted in this answer, a recommendation's history). Keep it small.
	Exclude []uint32
	// Types, when non-nil, lists the allowed type indexes (Types[i] true).
	Types []bool
}

// Node is a position in a Trie walk: the root, a type, or a code prefix.
// It covers the item ordinals [Lo, Hi). Depth 0 is the root, depth 1 a type,
// depth d+1 a prefix of d codes; a node of depth Width is one item.
type Node struct {
	Lo, Hi uint32
	Idx    int32 // explicit node index, or -1 for implicit (deep) nodes
	Depth  uint8
}
