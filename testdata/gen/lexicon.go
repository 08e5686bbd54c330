package main

// The demo's vocabulary: entity types, brands, styles, material families,
// colours, and the synonyms queries paraphrase them with. Everything is a
// slice, so generation never depends on map order.

// Type classes decide which materials a type is made of.
const (
	jewel = iota
	leather
	textile
)

type typeSpec struct {
	name  string
	class int
	count int      // items of this type
	price float64  // base price at brand tier 2
	nouns []string // title nouns
	words []string // query words for the type
	usage string   // "something ... {usage}"
}

var types = []typeSpec{
	{"handbag", leather, 360, 2600, []string{"Tote", "Shoulder Bag", "Clutch", "Top-Handle Bag"},
		[]string{"handbag", "purse", "tote", "bag"}, "to carry every day"},
	{"shoe", leather, 300, 850, []string{"Pumps", "Loafers", "Ankle Boots", "Sandals"},
		[]string{"shoes", "footwear", "pair of shoes", "heels"}, "for my feet"},
	{"bracelet", jewel, 420, 950, []string{"Cuff Bracelet", "Bangle", "Chain Bracelet", "Tennis Bracelet"},
		[]string{"bracelet", "bangle", "cuff", "wrist piece"}, "to wear on the wrist"},
	{"ring", jewel, 400, 1100, []string{"Signet Ring", "Band Ring", "Cocktail Ring", "Stacking Ring"},
		[]string{"ring", "band", "finger ring", "signet"}, "to wear on my finger"},
	{"necklace", jewel, 360, 1400, []string{"Pendant Necklace", "Chain Necklace", "Choker", "Collar Necklace"},
		[]string{"necklace", "pendant", "neckpiece", "chain"}, "to wear around the neck"},
	{"earring", jewel, 320, 780, []string{"Stud Earrings", "Drop Earrings", "Hoop Earrings", "Ear Cuff"},
		[]string{"earrings", "studs", "ear jewellery", "hoops"}, "for my ears"},
	{"watch", jewel, 220, 5200, []string{"Watch", "Chronograph", "Dress Watch", "Automatic Watch"},
		[]string{"watch", "timepiece", "wristwatch"}, "to keep time in style"},
	{"scarf", textile, 180, 420, []string{"Scarf", "Shawl", "Stole", "Square Scarf"},
		[]string{"scarf", "shawl", "wrap", "stole"}, "to wrap around my shoulders"},
	{"wallet", leather, 240, 560, []string{"Wallet", "Card Holder", "Zip Wallet", "Billfold"},
		[]string{"wallet", "card holder", "billfold", "purse for cards"}, "to keep my cards in"},
	{"belt", leather, 200, 520, []string{"Belt", "Waist Belt", "Reversible Belt", "Buckle Belt"},
		[]string{"belt", "waist belt", "waistband"}, "to wear at the waist"},
}

// next lists, per type, the types a shopper tends to look at after it.
var next = map[string][]string{
	"bracelet": {"ring", "necklace", "earring", "watch"},
	"ring":     {"bracelet", "earring", "necklace"},
	"necklace": {"earring", "bracelet", "ring", "scarf"},
	"earring":  {"necklace", "ring", "bracelet"},
	"watch":    {"bracelet", "belt", "wallet"},
	"handbag":  {"wallet", "shoe", "scarf", "belt"},
	"shoe":     {"handbag", "belt"},
	"scarf":    {"handbag", "necklace", "earring"},
	"wallet":   {"handbag", "belt", "watch"},
	"belt":     {"shoe", "wallet", "handbag"},
}

type brandSpec struct {
	name string
	tier int // 1 accessible .. 3 haute
}

var brands = []brandSpec{
	{"Maison Aurel", 3}, {"Valenti Roma", 3}, {"Castellane & Fils", 3},
	{"Orsolya", 2}, {"Kestrel & Vane", 2}, {"Atelier Noor", 2}, {"Sable Row", 2}, {"Ilse Marlow", 2},
	{"Corvo", 1}, {"Nordlys", 1}, {"Tamsin Hale", 1}, {"Verdance", 1},
}

var tierPrice = []float64{0, 0.45, 1, 2.3}

var collectionNames = []string{
	"Lumière", "Sérénade", "Aurora", "Cascade", "Halcyon", "Meridian", "Solstice", "Marais",
	"Riviera", "Odyssey", "Velvet Hour", "Nocturne", "Tidal", "Ember", "Petal", "Atlas",
	"Zephyr", "Mirage", "Bastion", "Orbit", "Prism", "Sierra", "Willow", "Monarch",
	"Equinox", "Lattice", "Cadence", "Harbor", "Vesper", "Saffron", "Obsidian", "Étoile",
	"Rosa", "Argent", "Tempest", "Nomad", "Verve", "Kinetic", "Dune", "Grove",
	"Arcadia", "Helix", "Paloma", "Sunday Club", "Faro", "Quartz",
}

type styleSpec struct {
	name      string
	adjs      []string // title adjectives
	words     []string // query synonyms
	hint      string   // a query clause that paraphrases the style
	describe  string   // description phrase
	occasions []string
}

var styles = []styleSpec{
	{"minimalist", []string{"Brushed", "Slim", "Pure", "Fine", "Sleek"},
		[]string{"understated", "clean-lined", "minimal", "pared-back"}, "nothing too flashy",
		"clean, uncluttered lines", []string{"everyday wear", "the office", "layering with other pieces"}},
	{"baroque", []string{"Ornate", "Filigree", "Embellished", "Scrolled", "Opulent"},
		[]string{"ornate", "opulent", "richly decorated", "extravagant"}, "the more ornate the better",
		"rich ornamental detail", []string{"evening galas", "the opera", "black-tie dinners"}},
	{"bohemian", []string{"Woven", "Fringed", "Layered", "Beaded", "Braided"},
		[]string{"boho", "free-spirited", "artisanal", "hippie-chic"}, "with a free-spirited feel",
		"a relaxed, handmade feel", []string{"summer festivals", "weekend markets", "beach evenings"}},
	{"classic", []string{"Heritage", "Signature", "Timeless", "Tailored", "Icon"},
		[]string{"timeless", "traditional", "elegant", "heritage-style"}, "something that never dates",
		"proportions that never date", []string{"weddings", "business meetings", "family celebrations"}},
	{"avant-garde", []string{"Sculptural", "Asymmetric", "Deconstructed", "Geometric", "Fractured"},
		[]string{"edgy", "experimental", "architectural", "unconventional"}, "a bit daring",
		"a sculptural, unexpected silhouette", []string{"gallery openings", "fashion week", "cocktail parties"}},
	{"sporty", []string{"Racer", "Active", "Rugged", "Trail", "Sprint"},
		[]string{"athletic", "sporty", "performance", "outdoorsy"}, "that can keep up with an active day",
		"a practical, hard-wearing build", []string{"weekend travel", "the tennis club", "city cycling"}},
}

type materialSpec struct {
	name  string
	price float64 // price multiplier
	words []string
}

// A family holds two materials for each type class, so a collection's
// metals, leathers and textiles belong together.
type familySpec struct {
	name      string
	materials [3][2]materialSpec // by class
}

var families = []familySpec{
	{"gold", [3][2]materialSpec{
		{{"yellow gold", 1.4, []string{"golden", "yellow-metal", "yellow gold"}}, {"rose gold", 1.4, []string{"rose gold", "pink gold", "rose-toned gold"}}},
		{{"calfskin", 1, []string{"calfskin", "calf leather", "smooth leather"}}, {"lambskin", 1.1, []string{"lambskin", "buttery leather", "soft lamb leather"}}},
		{{"silk twill", 1, []string{"silk twill", "twill silk"}}, {"cashmere", 1.5, []string{"cashmere", "soft cashmere"}}},
	}},
	{"silver", [3][2]materialSpec{
		{{"sterling silver", 0.6, []string{"silver", "sterling silver", "sterling"}}, {"white gold", 1.4, []string{"white gold", "pale gold"}}},
		{{"patent leather", 0.9, []string{"patent leather", "glossy leather", "patent"}}, {"nappa leather", 1, []string{"nappa", "nappa leather", "supple leather"}}},
		{{"silk satin", 1, []string{"satin", "silk satin", "satin silk"}}, {"modal jersey", 0.7, []string{"jersey", "modal jersey"}}},
	}},
	{"precious", [3][2]materialSpec{
		{{"platinum", 1.8, []string{"platinum", "white metal"}}, {"palladium", 1.5, []string{"palladium", "rare white metal"}}},
		{{"crocodile-embossed leather", 1.6, []string{"croc-embossed leather", "crocodile-effect leather", "croc-print leather"}}, {"ostrich leather", 1.8, []string{"ostrich", "ostrich leather"}}},
		{{"silk chiffon", 1.1, []string{"chiffon", "sheer silk", "silk chiffon"}}, {"vicuna wool", 2.5, []string{"vicuna", "vicuna wool"}}},
	}},
	{"technical", [3][2]materialSpec{
		{{"stainless steel", 0.7, []string{"steel", "stainless steel", "brushed steel"}}, {"titanium", 0.9, []string{"titanium", "lightweight titanium"}}},
		{{"technical nylon", 0.6, []string{"nylon", "technical fabric", "technical nylon"}}, {"grained leather", 0.9, []string{"grained leather", "pebbled leather"}}},
		{{"merino wool", 0.8, []string{"merino", "merino wool", "fine wool"}}, {"performance knit", 0.6, []string{"performance knit", "technical knit"}}},
	}},
	{"artisan", [3][2]materialSpec{
		{{"gilded brass", 0.5, []string{"brass", "gilded brass", "antiqued brass"}}, {"hammered copper", 0.5, []string{"copper", "hammered copper"}}},
		{{"suede", 0.9, []string{"suede", "brushed suede"}}, {"woven raffia", 0.6, []string{"raffia", "woven raffia", "straw-like raffia"}}},
		{{"linen", 0.7, []string{"linen", "airy linen"}}, {"cotton voile", 0.6, []string{"cotton voile", "light cotton"}}},
	}},
	{"noir", [3][2]materialSpec{
		{{"black ceramic", 0.9, []string{"ceramic", "black ceramic", "high-tech ceramic"}}, {"blackened silver", 0.7, []string{"blackened silver", "oxidised silver", "dark silver"}}},
		{{"rubberised leather", 0.8, []string{"rubberised leather", "coated leather"}}, {"matte leather", 1, []string{"matte leather", "matt-finish leather"}}},
		{{"wool crepe", 0.9, []string{"wool crepe", "crepe"}}, {"felted wool", 0.8, []string{"felted wool", "felt"}}},
	}},
}

type colorSpec struct {
	name  string
	words []string
}

var colors = []colorSpec{
	{"black", []string{"black", "jet black", "onyx"}},
	{"ivory", []string{"ivory", "cream", "off-white"}},
	{"champagne", []string{"champagne", "soft beige"}},
	{"blush pink", []string{"blush", "pale pink", "powder pink"}},
	{"burgundy", []string{"burgundy", "wine-coloured", "oxblood"}},
	{"emerald green", []string{"emerald", "jewel green"}},
	{"sapphire blue", []string{"sapphire", "royal blue"}},
	{"navy", []string{"navy", "dark blue"}},
	{"cognac", []string{"cognac", "warm brown"}},
	{"tan", []string{"tan", "sand-coloured"}},
	{"forest green", []string{"forest green", "deep green", "bottle green"}},
	{"silver grey", []string{"grey", "dove grey", "silver-grey"}},
	{"ruby red", []string{"ruby", "deep red"}},
	{"midnight blue", []string{"midnight blue", "inky blue"}},
	{"camel", []string{"camel", "caramel"}},
	{"white", []string{"white", "snow-white", "pure white"}},
}

// Query templates. {T} is a type word, {P} the attributes placed before
// it, {S} those placed after it, {U} the type's usage phrase, {H} a style
// hint clause. A template without {P} puts everything after the type.
var templates = []string{
	"{P} {T} {S}",
	"looking for a {P} {T} {S}",
	"something {P} {S} {U}",
	"gift idea: a {P} {T} {S}",
	"show me {P} {T} {S}",
	"any {P} {T} {S}?",
	"i want a {P} {T} {S}",
	"{T} {S}, {H}",
	"need a {P} {T} {S} for a special occasion",
	"{P} {T} {S} please",
}
