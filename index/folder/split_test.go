package folder

import "testing"

func TestSplitLeaveLastOut(t *testing.T) {
	xs := []Interaction{
		{User: "a", Item: "1", TS: 5}, {User: "a", Item: "2", TS: 5}, {User: "a", Item: "3", TS: 1}, {User: "a", Item: "4", TS: 9},
		{User: "b", Item: "1", TS: 1}, {User: "b", Item: "2", TS: 2},
		{User: "c", Item: "1", TS: 1},
	}
	rep := SplitLeaveLastOut(xs)
	want := []string{"valid", "train", "train", "test", "train", "test", "train"}
	// a: order 3(ts1), 1(ts5), 2(ts5, later in file), 4(ts9): 4 test, 2 valid — ties by file order
	want[0], want[1] = "train", "valid"
	for i, x := range xs {
		if x.Split != want[i] {
			t.Errorf("event %d (%s %s): split %q, want %q", i, x.User, x.Item, x.Split, want[i])
		}
	}
	if rep.Applied != "leave-last-out" || rep.Users != 3 || rep.Full != 1 || rep.Two != 1 || rep.One != 1 || rep.Test != 2 || rep.Valid != 1 || rep.Train != 4 {
		t.Errorf("report %+v", rep)
	}
	// explicit splits win
	ys := []Interaction{{User: "a", Item: "1", TS: 1, Split: "test"}, {User: "a", Item: "2", TS: 2}}
	if r := SplitLeaveLastOut(ys); r.Applied != "explicit" || ys[1].Split != "" {
		t.Errorf("explicit log changed: %+v %+v", r, ys)
	}
}
