package exporter

import (
	"fmt"

	"github.com/neo-search/neo/sid"
)

// Prompt returns the segments of a prompt for template i of task in m
// (sid.Prompt). Serving uses template 0; training samples all. vals fills
// the template's placeholders (see TextValue, TypeValue and sid.Spans).
func Prompt(m *sid.ModelMeta, task string, i int, format string, vals map[string][]sid.Segment) ([]sid.Segment, error) {
	tpls := m.Templates[task]
	if i < 0 || i >= len(tpls) {
		return nil, fmt.Errorf("exporter: no %s template %d (%d templates)", task, i, len(tpls))
	}
	return sid.Prompt(tpls[i], format, vals)
}

// TextValue is a placeholder value made of plain text.
func TextValue(s string) []sid.Segment { return []sid.Segment{{Text: s}} }

// TypeValue is the {type} value for entity type typ: its plural word
// ("handbags"), or "items" when typ is empty.
func TypeValue(typ string) []sid.Segment {
	if typ == "" {
		return TextValue(NoTypeWords[0])
	}
	return TextValue(TypePlural(typ))
}
