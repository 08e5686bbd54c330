package exporter

import (
	"strings"

	"github.com/neo-search/neo/sid"
)

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
	sid.TaskSearch: {
		"Find {type} for the search query: {query}",
		"Search the catalog for {type} matching \"{query}\".",
		"A shopper searches for \"{query}\". Which {type} fit best?",
		"Query: {query}\nShow the most relevant {type}.",
		"I'm looking for {query}. Show me {type}.",
		"{query} - list the best matching {type}.",
	},
	sid.TaskRecommend: {
		"The user interacted with {history}. Recommend {type} they will like next.",
		"Recent activity: {history}. What {type} should this shopper see next?",
		"History: {history}\nSuggest the next {type}.",
		"A shopper browsed {history}. Recommend {type} in the same taste.",
		"Given {history}, which {type} come next?",
		"The user interacted with {history} and asks for {context}. Recommend {type}.",
	},
	sid.TaskExplain: {
		"The user interacted with {history}. Describe this shopper's taste.",
		"Summarise the style of a shopper who interacted with {history}.",
		"History: {history}\nWrite a short shopper profile.",
		"What does {history} tell us about this shopper?",
		"Describe the preferences behind {history}.",
	},
	sid.TaskMixed: {
		"The user interacted with {history}. Recommend {type} and explain why.",
		"Based on {history}, suggest {type} with a short reason.",
		"History: {history}\nRecommend one of our {type} and say why it fits.",
		"A shopper browsed {history}. Pick {type} for them and justify the pick.",
		"Given {history}, what {type} would you recommend, and why?",
		"The user interacted with {history} and wants {context}. Recommend {type} and explain why.",
	},
}

// SequenceTemplates are the templates of sid.TaskRecommendSequence
// (Options.SequenceSamples), rendered by sid.SequencePrompt.
var SequenceTemplates = []string{"The user's items, oldest first: {history}"}

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
