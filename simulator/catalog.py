"""Static reference data of the synthetic shop: categories, countries, channels, name parts.

Kept apart from the world model so the numbers that shape the shop can be read (and changed)
in one place. Weights need not sum to one; users of these tables normalise them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    name: str
    code: str  # SKU prefix
    catalogue_share: float  # share of the products
    interest: float  # how much the average shopper cares about the category
    median_price: float  # dollars
    price_sigma: float  # log-normal spread of prices inside the category
    repurchase_days: tuple[float, float] | None  # consumables: range of the re-buy cycle
    nouns: tuple[str, ...]
    adjectives: tuple[str, ...]
    brand_flavours: tuple[str, ...]  # optional second word of a brand name
    # Categories whose products are bought together with this one's (a phone and its case):
    # each product gets complements there (``world._complements``).
    complements: tuple[str, ...] = ()

    @property
    def is_consumable(self) -> bool:
        return self.repurchase_days is not None


CATEGORIES: tuple[Category, ...] = (
    Category(
        "Electronics", "ELE", 0.12, 1.3, 89.0, 0.9, None,
        ("Wireless Earbuds", "Headphones", "Bluetooth Speaker", "Smartwatch", "Power Bank",
         "USB-C Charger", "Mechanical Keyboard", "Wireless Mouse", "Monitor", "Action Camera",
         "Wi-Fi Router", "E-Reader", "Tablet"),
        ("Pro", "Max", "Mini", "Ultra", "Lite", "Smart", "Portable", "Compact", "HD", "Air"),
        ("Labs", "Audio", "Tech", "Electronics"),
        ("Electronics",),
    ),
    Category(
        "Home & Kitchen", "HOM", 0.10, 1.0, 35.0, 0.7, None,
        ("Chef's Knife", "Frying Pan", "Electric Kettle", "Coffee Maker", "Blender", "Toaster",
         "Cutting Board", "Dinnerware Set", "Stand Mixer", "Food Storage Set", "Dutch Oven"),
        ("Stainless", "Ceramic", "Classic", "Nonstick", "Cast-Iron", "Bamboo", "Deluxe",
         "Everyday", "Professional"),
        ("Home", "Kitchen", "Living", "Cookware"),
        ("Groceries", "Home & Kitchen"),
    ),
    Category(
        "Furniture", "FUR", 0.06, 0.6, 160.0, 0.7, None,
        ("Desk", "Office Chair", "Bookshelf", "Sofa", "Floor Lamp", "Nightstand", "Dresser",
         "Coffee Table", "Bed Frame", "TV Stand"),
        ("Oak", "Walnut", "Modern", "Scandinavian", "Industrial", "Upholstered", "Minimalist",
         "Rustic"),
        ("Design", "Interiors", "Furniture", "Studio"),
        ("Home & Kitchen", "Furniture"),
    ),
    Category(
        "Fashion", "FAS", 0.14, 1.3, 38.0, 0.6, None,
        ("T-Shirt", "Jeans", "Rain Jacket", "Sneakers", "Summer Dress", "Hoodie", "Leather Boots",
         "Wool Scarf", "Backpack", "Sweater", "Chinos"),
        ("Slim-Fit", "Organic Cotton", "Oversized", "Vintage", "Classic", "Linen", "Merino",
         "Waterproof", "Relaxed"),
        ("Atelier", "Apparel", "Denim", "& Co"),
        ("Fashion",),
    ),
    Category(
        "Sports & Outdoors", "SPO", 0.08, 0.8, 45.0, 0.8, None,
        ("Yoga Mat", "Dumbbell Set", "Tennis Racket", "Running Shoes", "Bike Helmet",
         "Water Bottle", "Jump Rope", "Camping Tent", "Hiking Backpack", "Resistance Bands"),
        ("Lightweight", "Pro", "Trail", "Adjustable", "Insulated", "Ultralight", "All-Weather"),
        ("Sports", "Outdoor", "Athletics", "Gear"),
        ("Sports & Outdoors",),
    ),
    Category(
        "Toys & Games", "TOY", 0.07, 0.6, 24.0, 0.6, None,
        ("Puzzle", "Building Blocks", "Doll", "Action Figure", "Board Game", "RC Car",
         "Plush Bear", "Card Game", "Train Set"),
        ("Classic", "Deluxe", "Junior", "Family", "Wooden", "Magnetic", "Glow-in-the-Dark"),
        ("Kids", "Toys", "Play", "Games"),
        ("Toys & Games", "Books"),
    ),
    Category(
        "Books", "BOO", 0.09, 0.8, 14.0, 0.4, None,
        ("Novel", "Cookbook", "Biography", "Thriller", "Atlas", "Poetry Collection",
         "Field Guide", "Graphic Novel", "Workbook"),
        ("Illustrated", "Paperback", "Hardcover", "Collector's", "Pocket", "Annotated"),
        ("Press", "Books", "Publishing", "House"),
        ("Books",),
    ),
    Category(
        "Garden", "GAR", 0.05, 0.4, 29.0, 0.7, None,
        ("Garden Hose", "Planter", "Pruning Shears", "Lawn Sprinkler", "Raised Bed",
         "Watering Can", "Bird Feeder", "Solar Lights"),
        ("Heavy-Duty", "Expandable", "Terracotta", "Self-Watering", "Galvanised", "Cedar"),
        ("Garden", "Green", "Outdoors", "Grow"),
        ("Garden",),
    ),
    Category(
        "Groceries", "GRO", 0.10, 1.0, 6.5, 0.5, (10.0, 30.0),
        ("Coffee Beans", "Olive Oil", "Pasta", "Granola", "Green Tea", "Honey", "Basmati Rice",
         "Dark Chocolate", "Peanut Butter", "Oat Milk"),
        ("Organic", "Fair-Trade", "Whole-Grain", "Extra Virgin", "Single-Origin", "Gluten-Free",
         "Family Size"),
        ("Farms", "Foods", "Pantry", "Harvest"),
        ("Groceries",),
    ),
    Category(
        "Beauty", "BEA", 0.07, 0.8, 16.0, 0.6, (30.0, 75.0),
        ("Shampoo", "Face Cream", "Lip Balm", "Sunscreen SPF 50", "Vitamin C Serum",
         "Conditioner", "Body Lotion", "Face Wash", "Hand Cream"),
        ("Hydrating", "Gentle", "Fragrance-Free", "Nourishing", "Daily", "Repair"),
        ("Naturals", "Beauty", "Skin", "Botanics"),
        ("Beauty",),
    ),
    Category(
        "Pet Supplies", "PET", 0.05, 0.5, 19.0, 0.6, (20.0, 45.0),
        ("Dog Food", "Cat Litter", "Cat Food", "Bird Seed", "Pet Shampoo", "Dental Chews",
         "Puppy Pads", "Fish Flakes"),
        ("Grain-Free", "Senior", "Puppy", "Indoor", "Natural", "High-Protein"),
        ("Paws", "Pets", "Companion", "Tails"),
        ("Pet Supplies",),
    ),
    Category(
        "Household", "HOU", 0.05, 0.6, 8.0, 0.5, (21.0, 60.0),
        ("Dish Soap", "Laundry Detergent", "Paper Towels", "Trash Bags", "Sponges",
         "All-Purpose Cleaner", "Dishwasher Tabs", "Toilet Paper"),
        ("Eco", "Lemon", "Ultra", "Concentrated", "Unscented", "Value Pack"),
        ("Clean", "Home Care", "Fresh", "Essentials"),
        ("Household", "Groceries"),
    ),
)

# Brand names are invented from syllables so they never collide with real companies' marks.
BRAND_HEADS: tuple[str, ...] = (
    "Nor", "Vel", "Zen", "Lum", "Aur", "Kai", "Bri", "Cor", "Dax", "Eli", "Fen", "Gal", "Hal",
    "Ira", "Jun", "Kov", "Lio", "Mar", "Nev", "Oro", "Pax", "Qui", "Ros", "Sol", "Tor", "Ulm",
    "Vio", "Wyn", "Xan", "Yar", "Zep", "Ari", "Bel", "Cal", "Dor",
)
BRAND_TAILS: tuple[str, ...] = (
    "a", "o", "ix", "era", "ova", "ton", "ly", "io", "ar", "en", "us", "eo", "ith", "ane",
    "ora", "is", "em", "ux", "ada", "ino",
)

# (ISO 3166-1 alpha-2, weight, Faker locale used for names)
COUNTRIES: tuple[tuple[str, float, str], ...] = (
    ("US", 0.28, "en_US"), ("GB", 0.12, "en_GB"), ("DE", 0.10, "de_DE"), ("FR", 0.07, "fr_FR"),
    ("IN", 0.07, "en_IN"), ("CA", 0.06, "en_US"), ("ES", 0.05, "es_ES"), ("IT", 0.05, "it_IT"),
    ("BR", 0.05, "pt_BR"), ("NL", 0.04, "nl_NL"), ("AU", 0.04, "en_US"), ("PL", 0.04, "pl_PL"),
    ("SE", 0.03, "sv_SE"),
)

# (channel, weight, activity multiplier, price-sensitivity shift): users who came through
# email or a referral come back more; deal-driven channels bring more price-sensitive users.
CHANNELS: tuple[tuple[str, float, float, float], ...] = (
    ("organic", 0.34, 1.00, 0.0),
    ("paid_search", 0.22, 0.90, 0.1),
    ("social", 0.16, 0.85, 0.0),
    ("email", 0.10, 1.30, 0.0),
    ("referral", 0.10, 1.15, -0.1),
    ("affiliate", 0.08, 0.75, 0.3),
)

EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.45), ("outlook.com", 0.12), ("yahoo.com", 0.10), ("icloud.com", 0.10),
    ("hotmail.com", 0.08), ("proton.me", 0.05), ("gmx.net", 0.05), ("fastmail.com", 0.05),
)
