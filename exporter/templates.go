package exporter

import (
	"strings"

	"github.com/neo-search/neo/sid"
)

// Tasks, as keys of neo.json "templates".
const (
	TaskSearch    = "search"
	TaskRecommend = "recommend"
	TaskExplain   = "explain"
	TaskMixed     = "mixed"
)

// Tasks lists the tasks in a fixed order.
var Tasks = []string{TaskSearch, TaskRecommend, TaskExplain, TaskMixed}

// TaskFormat is the output format each task is trained with.
var TaskFormat = map[string]string{
	TaskSearch:    sid.FormatIDs,
	TaskRecommend: sid.FormatIDs,
	TaskExplain:   sid.FormatText,
	TaskMixed:     sid.FormatMixed,
}

// NoTypeWords stand in for {type} when a request names no entity type.
// Serving uses the first; training uses both.
var NoTypeWords = []string{"items", "pieces"}

// Templates are the instruction templates per task (neo.json "templates").
// Placeholders: {query} (search text), {type} (plural type word or "items"),
// {history} (SID spans, oldest first), {context} (a free-text request such
// as "something by Maison Aurel"). Template 0 of each task is the one
// serving uses, so it never needs {context}; templates with {context} are
// trained only when a context is at hand.
var Templates = map[string][]string{
	TaskSearch: {
		"Find {type} for the search query: {query}",
		"Search the catalog for {type} matching \"{query}\".",
		"A shopper searches for \"{query}\". Which {type} fit best?",
		"Query: {query}\nShow the most relevant {type}.",
		"I'm looking for {query}. Show me {type}.",
		"{query} - list the best matching {type}.",
	},
	TaskRecommend: {
		"The user interacted with {history}. Recommend {type} they will like next.",
		"Recent activity: {history}. What {type} should this shopper see next?",
		"History: {history}\nSuggest the next {type}.",
		"A shopper browsed {history}. Recommend {type} in the same taste.",
		"Given {history}, which {type} come next?",
		"The user interacted with {history} and asks for {context}. Recommend {type}.",
	},
	TaskExplain: {
		"The user interacted with {history}. Describe this shopper's taste.",
		"Summarise the style of a shopper who interacted with {history}.",
		"History: {history}\nWrite a short shopper profile.",
		"What does {history} tell us about this shopper?",
		"Describe the preferences behind {history}.",
	},
	TaskMixed: {
		"The user interacted with {history}. Recommend {type} and explain why.",
		"Based on {history}, suggest {type} with a short reason.",
		"History: {history}\nRecommend one of our {type} and say why it fits.",
		"A shopper browsed {history}. Pick {type} for them and justify the pick.",
		"Given {history}, what {type} would you recommend, and why?",
		"The user interacted with {history} and wants {context}. Recommend {type} and explain why.",
	},
}

// TaskRecommendSequence is the neo.json "templates" key of the recommend
// sequence format (Options.SequenceSamples). Its one template ends with
// {history}: a prompt is
//
//	<|bos|> <|user|> TEMPLATE-TEXT [SID]…[/SID] [SID]…[/SID] …
//
// with no format token, <|assistant|> or <|eos|>: the next item is simply
// the next SID span. Serving renders it with the request's history and
// decodes the next span (plugin: recommend requests in the ids format).
const TaskRecommendSequence = "recommend_sequence"

// SequenceTemplates are the templates of TaskRecommendSequence.
var SequenceTemplates = []string{"The user's items, oldest first: {history}"}

// MinMaxSeq is the smallest sequence length an export accepts: room for the
// prompt frame, one SID span and a short instruction.
const MinMaxSeq = 32

// TypeWord is the singular word of an entity type: "hand_bag" → "hand bag".
func TypeWord(typ string) string {
	if t := sid.NormalizeType(typ); t != "" {
		typ = t
	}
	return strings.ReplaceAll(typ, "_", " ")
}

// TypePlural is the plural word of an entity type ("handbag" → "handbags"),
// exactly as serving renders {type}: it is sid.TypeWord, so training and
// serving prompts cannot drift.
func TypePlural(typ string) string {
	if t := sid.NormalizeType(typ); t != "" {
		typ = t
	}
	return sid.TypeWord([]string{typ})
}

// article returns "a" or "an" for the word that follows.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}
