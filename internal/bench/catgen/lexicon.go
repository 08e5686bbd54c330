package catgen

// The vocabulary of the scale catalog (Generate). Brands and
// collection names are combinatorial (a few hundred brands, a thousand
// collection names), so that at millions of items the titles stay varied;
// everything is a slice, so generation never depends on map order.

// Type classes decide which materials a type is made of.
const (
	classJewel = iota
	classLeather
	classTextile
)

type catType struct {
	name  string
	class int
	price float64 // base price at tier 2
	nouns []string
}

var catTypes = []catType{
	{"handbag", classLeather, 2600, []string{"Tote", "Shoulder Bag", "Clutch", "Top-Handle Bag", "Crossbody Bag"}},
	{"shoe", classLeather, 850, []string{"Pumps", "Loafers", "Ankle Boots", "Sandals", "Sneakers"}},
	{"bracelet", classJewel, 950, []string{"Cuff Bracelet", "Bangle", "Chain Bracelet", "Tennis Bracelet"}},
	{"ring", classJewel, 1100, []string{"Signet Ring", "Band Ring", "Cocktail Ring", "Stacking Ring"}},
	{"necklace", classJewel, 1400, []string{"Pendant Necklace", "Chain Necklace", "Choker", "Collar Necklace"}},
	{"earring", classJewel, 780, []string{"Stud Earrings", "Drop Earrings", "Hoop Earrings", "Ear Cuff"}},
	{"watch", classJewel, 5200, []string{"Watch", "Chronograph", "Dress Watch", "Automatic Watch"}},
	{"scarf", classTextile, 420, []string{"Scarf", "Shawl", "Stole", "Square Scarf"}},
	{"wallet", classLeather, 560, []string{"Wallet", "Card Holder", "Zip Wallet", "Billfold"}},
	{"belt", classLeather, 520, []string{"Belt", "Waist Belt", "Reversible Belt", "Buckle Belt"}},
	{"brooch", classJewel, 690, []string{"Brooch", "Lapel Pin", "Bar Brooch", "Cluster Brooch"}},
	{"cufflinks", classJewel, 480, []string{"Cufflinks", "Knot Cufflinks", "Bar Cufflinks", "Disc Cufflinks"}},
	{"backpack", classLeather, 1500, []string{"Backpack", "Rucksack", "Drawstring Backpack", "Mini Backpack"}},
	{"gloves", classLeather, 380, []string{"Gloves", "Driving Gloves", "Opera Gloves", "Mittens"}},
	{"hat", classTextile, 450, []string{"Fedora", "Beret", "Bucket Hat", "Cloche"}},
	{"tie", classTextile, 240, []string{"Tie", "Bow Tie", "Skinny Tie", "Cravat"}},
	{"sweater", classTextile, 890, []string{"Sweater", "Cardigan", "Turtleneck", "Crewneck"}},
	{"dress", classTextile, 1900, []string{"Dress", "Slip Dress", "Wrap Dress", "Shirt Dress"}},
}

var brandFirst = []string{
	"Maison", "Atelier", "Casa", "Studio", "House of", "Officina", "Manufacture", "Bottega",
	"Galerie", "Workshop", "Compagnie", "Sartoria",
}

var brandLast = []string{
	"Aurel", "Valenti", "Castellane", "Orsolya", "Kestrel", "Noor", "Sable", "Marlow",
	"Corvo", "Nordlys", "Tamsin", "Verdance", "Halvard", "Ondine", "Bellamy", "Rourke",
	"Severin", "Idris", "Lucan", "Mireille", "Thessaly", "Annecy", "Brisbane", "Calloway",
	"Delacroix", "Esterel", "Fenwick", "Garnier", "Hollis", "Iverson", "Jubilee", "Kinsale",
	"Laurent", "Montague", "Navarre", "Ormond", "Pellegrini", "Quimper", "Ravel", "Sorensen",
}

var collOnset = []string{
	"Ar", "Bel", "Cal", "Dor", "El", "Fa", "Gal", "Hal", "Il", "Jun", "Kal", "Lu",
	"Mar", "Nor", "Or", "Pal", "Quin", "Ro", "Sol", "Tor", "Val", "Ze",
}
var collNucleus = []string{"a", "e", "i", "o", "ia", "ea"}
var collCoda = []string{"ne", "ra", "ro", "lle", "nt", "s", "x", "ris", "th", "n"}

type catStyle struct {
	name      string
	adjs      []string
	describe  string
	occasions []string
}

var catStyles = []catStyle{
	{"minimalist", []string{"Brushed", "Slim", "Pure", "Fine", "Sleek"}, "clean, uncluttered lines",
		[]string{"everyday wear", "the office", "layering with other pieces"}},
	{"baroque", []string{"Ornate", "Filigree", "Embellished", "Scrolled", "Opulent"}, "rich ornamental detail",
		[]string{"evening galas", "the opera", "black-tie dinners"}},
	{"bohemian", []string{"Woven", "Fringed", "Layered", "Beaded", "Braided"}, "a relaxed, handmade feel",
		[]string{"summer festivals", "weekend markets", "beach evenings"}},
	{"classic", []string{"Heritage", "Signature", "Timeless", "Tailored", "Icon"}, "proportions that never date",
		[]string{"weddings", "business meetings", "family celebrations"}},
	{"avant-garde", []string{"Sculptural", "Asymmetric", "Deconstructed", "Geometric", "Fractured"}, "a sculptural, unexpected silhouette",
		[]string{"gallery openings", "fashion week", "cocktail parties"}},
	{"sporty", []string{"Racer", "Active", "Rugged", "Trail", "Sprint"}, "a practical, hard-wearing build",
		[]string{"weekend travel", "the tennis club", "city cycling"}},
}

type catMaterial struct {
	name  string
	price float64 // price multiplier
}

// catFamilies hold two materials per type class, so a product line's
// metals, leathers and textiles belong together.
var catFamilies = [][3][2]catMaterial{
	{{{"yellow gold", 1.4}, {"rose gold", 1.4}}, {{"calfskin", 1}, {"lambskin", 1.1}}, {{"silk twill", 1}, {"cashmere", 1.5}}},
	{{{"sterling silver", 0.6}, {"white gold", 1.4}}, {{"patent leather", 0.9}, {"nappa leather", 1}}, {{"silk satin", 1}, {"modal jersey", 0.7}}},
	{{{"platinum", 1.8}, {"palladium", 1.5}}, {{"crocodile-embossed leather", 1.6}, {"ostrich leather", 1.8}}, {{"silk chiffon", 1.1}, {"vicuna wool", 2.5}}},
	{{{"stainless steel", 0.7}, {"titanium", 0.9}}, {{"technical nylon", 0.6}, {"grained leather", 0.9}}, {{"merino wool", 0.8}, {"performance knit", 0.6}}},
	{{{"gilded brass", 0.5}, {"hammered copper", 0.5}}, {{"suede", 0.9}, {"woven raffia", 0.6}}, {{"linen", 0.7}, {"cotton voile", 0.6}}},
	{{{"black ceramic", 0.9}, {"blackened silver", 0.7}}, {{"rubberised leather", 0.8}, {"matte leather", 1}}, {{"wool crepe", 0.9}, {"felted wool", 0.8}}},
}

var catColors = []string{
	"black", "ivory", "champagne", "blush pink", "burgundy", "emerald green", "sapphire blue", "navy",
	"cognac", "tan", "forest green", "silver grey", "ruby red", "midnight blue", "camel", "white",
	"olive", "terracotta", "lilac", "mustard", "teal", "charcoal", "coral", "sky blue",
}

var catTierPrice = []float64{0, 0.45, 1, 2.3}
