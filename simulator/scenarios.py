"""Kinds of shop the simulator can build: a catalogue and a preset of behaviour knobs each.

``general`` is the department store of ``simulator.catalog``; the others change the catalogue
and the parameters where that kind of shop differs from it:

* ``grocery``: everything is consumable and comes back on short cycles; big baskets, and what
  ran out is re-bought together in one order (Instacart: about 10 items an order, most of them
  re-orders);
* ``fashion``: taste drives the choice (a strong latent taste, flat category interest), items
  have a season, promotions are frequent;
* ``electronics``: expensive items, long consideration (many views, few carts, few checkouts),
  strong complements (a phone and its case);
* ``media``: one category of titles, no brands (one label), one price, nothing bought twice
  (MovieLens-like: a title is seen once, taste is everything).

A scenario is applied by ``SimulationParams(scenario=...)``: ``scenario_params`` gives the
preset fields, and ``world.build_world`` reads the catalogue from ``catalogue_of``. Explicit
keyword arguments win over the preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.catalog import CATEGORIES, Category


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    categories: tuple[Category, ...]
    # One brand name for every product when the shop has no brands (raw.products.brand is
    # required), else None.
    house_brand: str | None
    preset: dict[str, Any]


_GROCERY = (
    Category("Produce", "PRO", 0.18, 1.2, 2.5, 0.4, (5.0, 10.0),
             ("Bananas", "Apples", "Avocados", "Spinach", "Tomatoes", "Carrots", "Lemons",
              "Strawberries", "Onions", "Potatoes"),
             ("Organic", "Fresh", "Local", "Bagged", "Loose"), ("Farms", "Growers", "Fields"),
             ("Dairy & Eggs", "Bakery")),
    Category("Dairy & Eggs", "DAI", 0.14, 1.1, 3.5, 0.4, (5.0, 12.0),
             ("Whole Milk", "Greek Yogurt", "Free-Range Eggs", "Butter", "Cheddar", "Oat Milk",
              "Cream Cheese", "Mozzarella"),
             ("Organic", "Low-Fat", "Whole", "Lactose-Free", "Grass-Fed"), ("Dairy", "Creamery"),
             ("Bakery", "Produce")),
    Category("Bakery", "BAK", 0.10, 0.9, 3.8, 0.4, (4.0, 9.0),
             ("Sourdough", "Bagels", "Croissants", "Whole-Wheat Bread", "Tortillas", "Muffins"),
             ("Fresh", "Seeded", "Sliced", "Artisan"), ("Bakery", "Ovens"),
             ("Dairy & Eggs",)),
    Category("Pantry", "PAN", 0.18, 1.0, 4.5, 0.5, (14.0, 30.0),
             ("Pasta", "Basmati Rice", "Olive Oil", "Canned Tomatoes", "Peanut Butter", "Honey",
              "Granola", "Black Beans", "Flour"),
             ("Organic", "Whole-Grain", "Extra Virgin", "Gluten-Free", "Family Size"),
             ("Pantry", "Foods", "Harvest"), ("Pantry", "Produce")),
    Category("Beverages", "BEV", 0.12, 0.9, 5.0, 0.5, (7.0, 21.0),
             ("Sparkling Water", "Coffee Beans", "Green Tea", "Orange Juice", "Cola", "Kombucha"),
             ("Sugar-Free", "Cold-Pressed", "Single-Origin", "Classic"), ("Drinks", "Brew"),
             ("Snacks",)),
    Category("Snacks", "SNA", 0.12, 0.9, 3.5, 0.4, (7.0, 18.0),
             ("Tortilla Chips", "Dark Chocolate", "Trail Mix", "Crackers", "Popcorn", "Salsa"),
             ("Sea-Salt", "Spicy", "Baked", "Family Size"), ("Snacks", "Crunch"),
             ("Beverages",)),
    Category("Frozen", "FRO", 0.08, 0.7, 5.5, 0.4, (10.0, 25.0),
             ("Frozen Pizza", "Ice Cream", "Frozen Berries", "Veggie Burgers", "Dumplings"),
             ("Family Size", "Organic", "Classic"), ("Frozen", "Chill"), ("Frozen",)),
    Category("Household", "HOU", 0.08, 0.6, 6.5, 0.5, (21.0, 45.0),
             ("Dish Soap", "Paper Towels", "Trash Bags", "Laundry Detergent", "Sponges"),
             ("Eco", "Lemon", "Unscented", "Value Pack"), ("Clean", "Home Care"),
             ("Household",)),
)

_FASHION = (
    Category("Tops", "TOP", 0.24, 1.2, 29.0, 0.5, None,
             ("T-Shirt", "Blouse", "Sweater", "Hoodie", "Polo", "Tank Top"),
             ("Organic Cotton", "Oversized", "Vintage", "Linen", "Merino", "Relaxed"),
             ("Apparel", "Atelier", "Studio"), ("Bottoms", "Accessories")),
    Category("Bottoms", "BOT", 0.18, 1.0, 45.0, 0.5, None,
             ("Jeans", "Chinos", "Skirt", "Shorts", "Joggers"),
             ("Slim-Fit", "Wide-Leg", "Stretch", "Classic", "Cargo"), ("Denim", "& Co"),
             ("Tops", "Shoes")),
    Category("Dresses", "DRE", 0.12, 0.9, 59.0, 0.5, None,
             ("Summer Dress", "Wrap Dress", "Maxi Dress", "Shirt Dress"),
             ("Floral", "Linen", "Silk", "Pleated"), ("Atelier", "Maison"), ("Shoes", "Accessories")),
    Category("Outerwear", "OUT", 0.12, 0.9, 99.0, 0.6, None,
             ("Rain Jacket", "Wool Coat", "Puffer Jacket", "Denim Jacket", "Trench Coat"),
             ("Waterproof", "Insulated", "Classic", "Lightweight"), ("Outdoor", "Apparel"),
             ("Accessories",)),
    Category("Shoes", "SHO", 0.18, 1.0, 79.0, 0.5, None,
             ("Sneakers", "Leather Boots", "Sandals", "Loafers", "Running Shoes"),
             ("Leather", "Suede", "Canvas", "Chunky", "Minimal"), ("Footwear", "Steps"),
             ("Accessories",)),
    Category("Accessories", "ACC", 0.16, 0.8, 24.0, 0.6, None,
             ("Wool Scarf", "Backpack", "Belt", "Sunglasses", "Beanie", "Tote Bag"),
             ("Leather", "Knit", "Classic", "Recycled"), ("Goods", "Co"), ("Tops",)),
)

_ELECTRONICS = (
    Category("Phones", "PHO", 0.14, 1.2, 549.0, 0.5, None,
             ("Smartphone", "Foldable Phone", "Rugged Phone"), ("Pro", "Max", "Mini", "Ultra", "Lite"),
             ("Mobile", "Tech"), ("Accessories",)),
    Category("Laptops", "LAP", 0.14, 1.0, 899.0, 0.4, None,
             ("Ultrabook", "Gaming Laptop", "2-in-1 Laptop", "Chromebook"), ("Pro", "Air", "Slim", "Max"),
             ("Computing", "Systems"), ("Accessories", "Audio")),
    Category("Audio", "AUD", 0.16, 1.0, 129.0, 0.7, None,
             ("Wireless Earbuds", "Headphones", "Bluetooth Speaker", "Soundbar"),
             ("Noise-Cancelling", "Studio", "Portable", "Mini"), ("Audio", "Sound"), ("Accessories",)),
    Category("TV & Video", "TVV", 0.10, 0.8, 699.0, 0.6, None,
             ("4K TV", "OLED TV", "Projector", "Streaming Stick"), ("HD", "Smart", "Ultra", "Cinema"),
             ("Vision", "Screens"), ("Audio", "Accessories")),
    Category("Cameras", "CAM", 0.08, 0.6, 599.0, 0.6, None,
             ("Mirrorless Camera", "Action Camera", "Lens", "Drone"), ("Pro", "Compact", "Zoom"),
             ("Optics", "Imaging"), ("Accessories",)),
    Category("Gaming", "GAM", 0.10, 0.8, 299.0, 0.7, None,
             ("Console", "Controller", "Gaming Headset", "VR Headset"), ("Pro", "Elite", "Wireless"),
             ("Play", "Arcade"), ("Accessories", "Audio")),
    Category("Accessories", "ACC", 0.28, 1.0, 25.0, 0.6, None,
             ("Phone Case", "USB-C Charger", "Screen Protector", "Laptop Sleeve", "Power Bank",
              "HDMI Cable", "Memory Card", "Wireless Mouse"),
             ("Slim", "Fast", "Rugged", "Braided", "Compact"), ("Gear", "Cables"), ()),
)

_MEDIA = (
    Category("Films", "FLM", 1.0, 1.0, 3.99, 0.0, None,
             ("Odyssey", "Heist", "Romance", "Mystery", "Western", "Documentary", "Saga",
              "Comedy", "Thriller", "Musical", "Drama", "Chronicle"),
             ("Midnight", "Silent", "Golden", "Last", "Hidden", "Northern", "Electric", "Lost",
              "Crimson", "Wild", "Little", "Endless"),
             (), ()),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (
        Scenario("general", "a department store: twelve categories, durables and consumables",
                 CATEGORIES, None, {}),
        Scenario(
            "grocery", "re-buy heavy: short cycles, big baskets re-ordered together",
            _GROCERY, None,
            {"users": 8000, "mean_views_per_session": 10.0, "intent_share": 0.5,
             "intent_views_factor": 4.0, "cart_bias": -2.8, "cart_intent_boost": 3.6,
             "checkout_intent": 0.85, "checkout_browse": 0.05,
             "line_keep": 1.0, "max_order_lines": 40, "rebuy_probability": 0.75,
             "rebuy_together": True, "complement_view_rate": 0.15, "taste_scale": 0.8,
             "promotion_days": 30.0, "price_change_days": 60.0, "cooldown_strength": 0.5,
             "cooldown_days": 7.0},
        ),
        Scenario(
            "fashion", "taste-driven and seasonal, frequent promotions",
            _FASHION, None,
            {"taste_scale": 1.6, "taste_concentration": 2.0, "season_strength": 1.5,
             "promotion_days": 25.0, "price_sensitivity_median": 1.0,
             "complement_view_rate": 0.2},
        ),
        Scenario(
            "electronics", "expensive, long consideration, strong complements",
            _ELECTRONICS, None,
            {"mean_views_per_session": 6.0, "cart_bias": -5.6, "checkout_intent": 0.5,
             "checkout_browse": 0.08, "complement_view_rate": 0.7, "complement_cart_boost": 3.0,
             "price_sensitivity_median": 1.1, "promotion_days": 45.0},
        ),
        Scenario(
            "media", "one category of titles, no brands, one price, nothing bought twice",
            _MEDIA, "Independent",
            {"taste_scale": 2.0, "taste_concentration": 1.0, "liked_brands_mean": 0.0,
             "price_change_days": 0.0, "promotion_days": 0.0, "complement_view_rate": 0.0,
             "popularity_exponent": 0.8, "mean_views_per_session": 5.0},
        ),
    )
}


def scenario_named(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}"
        ) from None


def scenario_params(name: str) -> dict[str, Any]:
    """The parameter preset of scenario ``name`` (fields of ``SimulationParams``)."""
    return dict(scenario_named(name).preset)
