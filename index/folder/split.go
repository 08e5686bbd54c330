package folder

import (
	"cmp"
	"slices"
)

// SplitReport says how SplitLeaveLastOut split a log.
type SplitReport struct {
	// Applied is "leave-last-out" when the log had no split fields and was
	// split, "explicit" when it kept its own.
	Applied string `json:"applied"`
	Users   int    `json:"users"`
	// Users with a test, a valid and at least one train event.
	Full int `json:"users_full"`
	// Users with exactly two events (train + test, no valid) and with one
	// (train only: nothing to hold out).
	Two int `json:"users_two"`
	One int `json:"users_one"`
	// Events per split after the split.
	Train int `json:"train"`
	Valid int `json:"valid"`
	Test  int `json:"test"`
}

// SplitLeaveLastOut gives every interaction a split when the log holds no
// held-out event (split fields absent, or all "train", which is what the
// parser defaults an absent field to). Explicit splits win: a log with any
// valid or test event is left as it is. Each user's events are ordered by time, ties by their
// order in xs; the last is "test", the one before "valid", the rest
// "train" (the protocol of SASRec, S3-Rec and TIGER). A user with two
// events gets train + test, no valid; a user with one event keeps it in
// train, so a new user's only event still feeds the statistics.
func SplitLeaveLastOut(xs []Interaction) SplitReport {
	rep := SplitReport{Applied: "explicit"}
	byUser := map[string][]int{}
	var users []string
	explicit := false
	for i, x := range xs {
		if x.Split == SplitValid || x.Split == SplitTest {
			explicit = true
		}
		if _, ok := byUser[x.User]; !ok {
			users = append(users, x.User)
		}
		byUser[x.User] = append(byUser[x.User], i)
	}
	rep.Users = len(users)
	if !explicit {
		rep.Applied = "leave-last-out"
		for _, u := range users {
			idx := byUser[u]
			slices.SortStableFunc(idx, func(a, b int) int { return cmp.Or(cmp.Compare(xs[a].TS, xs[b].TS), cmp.Compare(a, b)) })
			for _, i := range idx {
				xs[i].Split = SplitTrain
			}
			switch n := len(idx); {
			case n >= 3:
				xs[idx[n-1]].Split, xs[idx[n-2]].Split = SplitTest, SplitValid
				rep.Full++
			case n == 2:
				xs[idx[1]].Split = SplitTest
				rep.Two++
			default:
				rep.One++
			}
		}
	}
	for _, x := range xs {
		switch x.Split {
		case SplitValid:
			rep.Valid++
		case SplitTest:
			rep.Test++
		default:
			rep.Train++
		}
	}
	return rep
}
