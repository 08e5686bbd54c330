package main

// The demo's vocabulary: entity types, brands, styles, material families,
// colours, and the paraphrases queries name them with. Everything is a
// slice, so generation never depends on map order.
//
// Queries are paraphrases, not keyword copies: every query form (type
// words, usage phrases, style words and hints, material and colour words,
// template text) shares no word, nor any English stem, with the item
// titles and descriptions; TestLexiconDisjoint checks it. Only brand names,
// which cannot be paraphrased, are literal. Each value has three to five
// forms, all of which occur in the train queries.

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
	words []string // query words for the type; plural ones end in "s"
	usage string   // "something ... {usage}"
}

var types = []typeSpec{
	{"handbag", leather, 360, 2600, []string{"Tote", "Shoulder Bag", "Clutch", "Top-Handle Bag"},
		[]string{"purse", "satchel", "carryall", "hobo"}, "to carry every day"},
	{"shoe", leather, 300, 850, []string{"Pumps", "Loafers", "Ankle Boots", "Sandals"},
		[]string{"footwear", "heels", "flats", "mules"}, "for my feet"},
	{"bracelet", jewel, 420, 950, []string{"Cuff Bracelet", "Bangle", "Chain Bracelet", "Tennis Bracelet"},
		[]string{"armlet", "wrist jewel", "wrist adornment"}, "for my wrist"},
	{"ring", jewel, 400, 1100, []string{"Signet Ring", "Band Ring", "Cocktail Ring", "Stacking Ring"},
		[]string{"finger jewel", "solitaire", "finger adornment"}, "for my finger"},
	{"necklace", jewel, 360, 1400, []string{"Pendant Necklace", "Chain Necklace", "Choker", "Collar Necklace"},
		[]string{"neckpiece", "locket", "torc"}, "to go around my neck"},
	{"earring", jewel, 320, 780, []string{"Stud Earrings", "Drop Earrings", "Hoop Earrings", "Ear Cuff"},
		[]string{"lobe jewels", "danglers", "lobe baubles"}, "for my lobes"},
	{"watch", jewel, 220, 5200, []string{"Watch", "Chronograph", "Dress Watch", "Automatic Watch"},
		[]string{"timepiece", "timekeeper", "ticker"}, "to keep time in style"},
	{"scarf", textile, 180, 420, []string{"Scarf", "Shawl", "Stole", "Square Scarf"},
		[]string{"neck wrap", "muffler", "kerchief"}, "for chilly days"},
	{"wallet", leather, 240, 560, []string{"Wallet", "Card Holder", "Zip Wallet", "Billfold"},
		[]string{"pocketbook", "coin pouch", "money organiser"}, "for my cash and coins"},
	{"belt", leather, 200, 520, []string{"Belt", "Waist Belt", "Reversible Belt", "Buckle Belt"},
		[]string{"cinch", "girdle", "trouser strap"}, "to hold up my trousers"},
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
	words     []string // query paraphrases
	hint      string   // a query clause that paraphrases the style
	describe  string   // description phrase
	occasions []string
}

var styles = []styleSpec{
	{"minimalist", []string{"Brushed", "Slim", "Pure", "Fine", "Sleek"},
		[]string{"pared-back", "understated", "unfussy", "no-frills"}, "nothing too flashy",
		"clean, uncluttered lines", []string{"everyday wear", "the office", "layering with other pieces"}},
	{"baroque", []string{"Ornate", "Filigree", "Embellished", "Scrolled", "Opulent"},
		[]string{"lavish", "extravagant", "decadent", "flamboyant"}, "the showier the better",
		"rich ornamental detail", []string{"evening galas", "the opera", "black-tie dinners"}},
	{"bohemian", []string{"Woven", "Fringed", "Layered", "Beaded", "Braided"},
		[]string{"boho", "free-spirited", "hippie-chic", "artisanal"}, "with a carefree vibe",
		"a relaxed, handmade feel", []string{"summer festivals", "weekend markets", "beach evenings"}},
	{"classic", []string{"Heritage", "Signature", "Timeless", "Tailored", "Icon"},
		[]string{"traditional", "elegant", "ageless", "old-school"}, "one that will stay in vogue for decades",
		"proportions that never date", []string{"weddings", "business meetings", "family celebrations"}},
	{"avant-garde", []string{"Sculptural", "Asymmetric", "Deconstructed", "Geometric", "Fractured"},
		[]string{"edgy", "experimental", "architectural", "unconventional"}, "for someone who likes to stand out",
		"a sculptural, unexpected silhouette", []string{"gallery openings", "fashion week", "cocktail parties"}},
	{"sporty", []string{"Racer", "Active", "Rugged", "Trail", "Sprint"},
		[]string{"athletic", "outdoorsy", "athleisure", "gym-ready"}, "tough enough for an energetic lifestyle",
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
		{{"yellow gold", 1.4, []string{"18-karat", "golden alloy", "750 bullion", "sunlit alloy"}}, {"rose gold", 1.4, []string{"peachy metal", "coral-tinted alloy", "apricot-hued metal", "sunset-hued metal"}}},
		{{"calfskin", 1, []string{"calf hide", "smooth hide", "box-calf", "baby calf"}}, {"lambskin", 1.1, []string{"lamb hide", "buttery skin", "soft lamb", "young lamb"}}},
		{{"silk twill", 1, []string{"foulard", "diagonal weave", "printed carré", "crisp printed weave"}}, {"cashmere", 1.5, []string{"pashmina", "goat down", "cloud-soft fibre", "kashmiri fleece"}}},
	}},
	{"silver", [3][2]materialSpec{
		{{"sterling silver", 0.6, []string{"hallmarked 925", "solid 925", "moon-bright metal", "bright 925"}}, {"white gold", 1.4, []string{"rhodium-plated alloy", "frosty alloy", "cool-toned metal", "glacier-toned metal"}}},
		{{"patent leather", 0.9, []string{"lacquered hide", "high-shine skin", "varnished hide", "mirror-gloss hide"}}, {"nappa leather", 1, []string{"supple hide", "glove-soft skin", "pillowy hide", "plush skin"}}},
		{{"silk satin", 1, []string{"charmeuse", "duchesse", "liquid-sheen fabric", "liquid drape"}}, {"modal jersey", 0.7, []string{"stretch fabric", "t-shirt fabric", "drapey stretch", "lounge fabric"}}},
	}},
	{"precious", [3][2]materialSpec{
		{{"platinum", 1.8, []string{"pt950", "noble metal", "dense precious alloy", "prestige metal"}}, {"palladium", 1.5, []string{"pd950", "rare metal", "light precious alloy", "lustrous rare alloy"}}},
		{{"crocodile-embossed leather", 1.6, []string{"croc-effect hide", "reptile-print skin", "alligator-look hide", "faux-croc"}}, {"ostrich leather", 1.8, []string{"quill-marked skin", "exotic bird hide", "dotted exotic skin", "bird-quill hide"}}},
		{{"silk chiffon", 1.1, []string{"gauze", "diaphanous fabric", "sheer georgette", "floaty sheer"}}, {"vicuna wool", 2.5, []string{"andean fleece", "camelid fibre", "rarest fleece", "peruvian fibre"}}},
	}},
	{"technical", [3][2]materialSpec{
		{{"stainless steel", 0.7, []string{"inox", "316l", "rustproof metal", "surgical-grade metal"}}, {"titanium", 0.9, []string{"aerospace alloy", "featherlight metal", "grade-5 alloy", "space-age metal"}}},
		{{"technical nylon", 0.6, []string{"ripstop", "parachute fabric", "polyamide", "windbreaker fabric"}}, {"grained leather", 0.9, []string{"pebbled hide", "textured skin", "saffiano", "crosshatch hide"}}},
		{{"merino wool", 0.8, []string{"sheep fleece", "springy fleece", "australian fleece", "superfine fleece"}}, {"performance knit", 0.6, []string{"moisture-wicking fabric", "activewear fabric", "breathable synthetic", "quick-dry fabric"}}},
	}},
	{"artisan", [3][2]materialSpec{
		{{"gilded brass", 0.5, []string{"antiqued alloy", "vermeil-style metal", "burnished metal", "patinated alloy"}}, {"hammered copper", 0.5, []string{"beaten metal", "planished alloy", "penny-toned metal", "dimpled alloy"}}},
		{{"suede", 0.9, []string{"napped hide", "nubuck-style skin", "soft-nap hide", "chamois-like hide"}}, {"woven raffia", 0.6, []string{"straw", "palm fibre", "basketweave", "seagrass"}}},
		{{"linen", 0.7, []string{"flax", "breezy weave", "rumpled natural fibre", "slubby weave"}}, {"cotton voile", 0.6, []string{"batiste", "muslin", "airy lawn", "gossamer"}}},
	}},
	{"noir", [3][2]materialSpec{
		{{"black ceramic", 0.9, []string{"zirconia", "dark porcelain", "scratchproof composite", "hi-tech porcelain"}}, {"blackened silver", 0.7, []string{"oxidised metal", "smoky darkened metal", "darkened 925", "gunmetal"}}},
		{{"rubberised leather", 0.8, []string{"rubber-coated hide", "weatherproof skin", "latex-sealed hide", "rain-ready hide"}}, {"matte leather", 1, []string{"unpolished hide", "low-sheen skin", "non-glossy hide", "shine-free hide"}}},
		{{"wool crepe", 0.9, []string{"crinkled drape", "grainy suiting", "pebbly fabric", "bouncy suiting"}}, {"felted wool", 0.8, []string{"loden", "boiled fleece", "pressed fibre", "matted fleece"}}},
	}},
}

type colorSpec struct {
	name  string
	words []string
}

var colors = []colorSpec{
	{"black", []string{"jet", "onyx", "raven", "ebony"}},
	{"ivory", []string{"cream", "eggshell", "ecru", "vanilla"}},
	{"champagne", []string{"beige", "biscuit", "oatmeal", "bisque"}},
	{"blush pink", []string{"ballerina", "candyfloss", "peony", "marshmallow"}},
	{"burgundy", []string{"oxblood", "claret", "maroon", "merlot"}},
	{"emerald green", []string{"jade", "malachite", "kelly", "shamrock"}},
	{"sapphire blue", []string{"cobalt", "ultramarine", "lapis", "azure"}},
	{"navy", []string{"indigo", "deep marine", "dark ocean", "admiral"}},
	{"cognac", []string{"brandy", "chestnut", "toffee", "whisky"}},
	{"tan", []string{"sand", "khaki", "fawn", "latte"}},
	{"forest green", []string{"pine", "deep woodland", "moss", "fir"}},
	{"silver grey", []string{"dove", "pewter", "ash", "mist"}},
	{"ruby red", []string{"crimson", "scarlet", "cherry", "poppy"}},
	{"midnight blue", []string{"ink", "night sky", "twilight", "nightfall"}},
	{"camel", []string{"caramel", "butterscotch", "honey", "wheat"}},
	{"white", []string{"snow", "chalk", "alabaster", "milk"}},
}

// Query templates. {T} is a type word, {P} the attributes placed before
// it, {S} those placed after it, {U} the type's usage phrase. A template
// without {P} puts everything after the type. hintTemplate is used when a
// style is paraphrased by its hint clause {H}.
var templates = []string{
	"{P} {T} {S}",
	"looking for a {P} {T} {S}",
	"something {P} {S} {U}",
	"gift idea: a {P} {T} {S}",
	"show me {P} {T} {S}",
	"any {P} {T} {S}?",
	"i want a {P} {T} {S}",
	"need a {P} {T} {S} for a special occasion",
	"{P} {T} {S} please",
}

const hintTemplate = "{T} {S}, {H}"
