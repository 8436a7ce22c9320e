"""The demo data set: two brands, real fulfilment-centre sites and real US destinations. Data only."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ordermesh.catalog.barcode import gtin_check_digit


@dataclass(frozen=True)
class DemoMerchant:
    code: str
    name: str
    gs1_prefix: str  # the company prefix its UPC barcodes start with


@dataclass(frozen=True)
class DemoSku:
    code: str
    name: str
    weight_kg: str
    dimensions_cm: tuple[str, str, str]  # length, width, height of the shipping carton
    price: str
    unit_cost: str

    def barcode(self, gs1_prefix: str, item_number: int) -> str:
        """A UPC-A (GTIN-12) with a valid check digit."""
        body = f"{gs1_prefix}{item_number:0{11 - len(gs1_prefix)}d}"
        return body + str(gtin_check_digit(body))

    def money(self) -> tuple[Decimal, Decimal]:
        return Decimal(self.price), Decimal(self.unit_cost)


@dataclass(frozen=True)
class DemoLocation:
    code: str
    name: str
    address1: str
    city: str
    region: str
    postal_code: str
    latitude: float
    longitude: float
    timezone: str
    kind: str = "warehouse"


@dataclass(frozen=True)
class Destination:
    postal_code: str
    city: str
    region: str


DEFAULT_ORDERS = 200  # orders the demo places unless told how many

MERCHANTS = (
    DemoMerchant("northwind", "Northwind Outfitters", "850012"),
    DemoMerchant("bluebird", "Bluebird Home & Kitchen", "860004"),
)

# Outdoor apparel and gear.
NORTHWIND_SKUS = (
    DemoSku("NW-TEE-BLK-M", "Trailhead Organic Tee, Black, M", "0.18", ("30", "25", "3"), "28.00", "9.50"),
    DemoSku("NW-TEE-BLK-L", "Trailhead Organic Tee, Black, L", "0.20", ("30", "25", "3"), "28.00", "9.50"),
    DemoSku("NW-TEE-OLV-M", "Trailhead Organic Tee, Olive, M", "0.18", ("30", "25", "3"), "28.00", "9.50"),
    DemoSku("NW-FLC-NVY-M", "Ridgeline Fleece Jacket, Navy, M", "0.55", ("40", "30", "8"), "89.00", "31.00"),
    DemoSku("NW-FLC-NVY-L", "Ridgeline Fleece Jacket, Navy, L", "0.60", ("40", "30", "8"), "89.00", "31.00"),
    DemoSku("NW-RJK-RED-M", "Stormbreak Rain Shell, Red, M", "0.42", ("35", "28", "6"), "149.00", "52.00"),
    DemoSku("NW-RJK-RED-L", "Stormbreak Rain Shell, Red, L", "0.45", ("35", "28", "6"), "149.00", "52.00"),
    DemoSku("NW-SCK-WOOL-3P", "Merino Hiking Socks, 3-Pack", "0.21", ("20", "12", "5"), "32.00", "10.00"),
    DemoSku("NW-BNE-GRY", "Alpine Rib Beanie, Heather Grey", "0.09", ("22", "18", "3"), "24.00", "6.50"),
    DemoSku("NW-CAP-KHK", "Canyon Trucker Cap, Khaki", "0.12", ("25", "20", "12"), "26.00", "7.00"),
    DemoSku("NW-PCK-28L", "Summit 28L Daypack", "0.95", ("50", "32", "20"), "119.00", "41.00"),
    DemoSku("NW-PCK-45L", "Backcountry 45L Pack", "1.65", ("70", "35", "25"), "229.00", "84.00"),
    DemoSku("NW-BTL-750", "Insulated Bottle 750 ml, Slate", "0.38", ("28", "9", "9"), "34.00", "11.00"),
    DemoSku("NW-MUG-CMP", "Enamel Camp Mug", "0.25", ("12", "12", "10"), "18.00", "5.00"),
    DemoSku("NW-HDL-300", "Trail Headlamp 300 lm", "0.11", ("15", "10", "6"), "39.00", "13.00"),
    DemoSku("NW-TNT-2P", "Ridgeback 2-Person Tent", "2.10", ("55", "18", "18"), "329.00", "128.00"),
    DemoSku("NW-SBG-20F", "Down Sleeping Bag, 20°F", "1.20", ("45", "25", "25"), "279.00", "104.00"),
    DemoSku("NW-PAD-INF", "Insulated Sleeping Pad", "0.58", ("30", "14", "14"), "129.00", "44.00"),
    DemoSku("NW-STV-CAN", "Canister Camp Stove", "0.09", ("12", "8", "8"), "59.00", "19.00"),
    DemoSku("NW-PLS-PR", "Carbon Trekking Poles, Pair", "0.48", ("68", "12", "6"), "139.00", "47.00"),
    DemoSku("NW-GLV-M", "Windproof Fleece Gloves, M", "0.10", ("24", "12", "3"), "42.00", "13.00"),
    DemoSku("NW-FLT-SQZ", "Squeeze Water Filter", "0.09", ("16", "9", "4"), "44.00", "14.00"),
    DemoSku("NW-CHR-FLD", "Packable Camp Chair", "0.98", ("40", "14", "14"), "99.00", "33.00"),
    DemoSku("NW-HMK-1P", "Ultralight Hammock", "0.45", ("20", "15", "10"), "69.00", "21.00"),
    DemoSku("NW-KNF-FLD", "Folding Pocket Knife", "0.12", ("14", "6", "3"), "49.00", "16.00"),
)

# Kitchen and home goods.
BLUEBIRD_SKUS = (
    DemoSku("BB-SKL-10", "Cast Iron Skillet, 10 in", "2.30", ("45", "28", "7"), "44.00", "15.00"),
    DemoSku("BB-SKL-12", "Cast Iron Skillet, 12 in", "3.40", ("50", "33", "7"), "59.00", "20.00"),
    DemoSku("BB-DUT-55", "Enameled Dutch Oven 5.5 qt, Cerise", "5.40", ("36", "30", "20"), "169.00", "62.00"),
    DemoSku("BB-KNF-CHF", "Chef's Knife, 8 in", "0.24", ("36", "8", "3"), "89.00", "28.00"),
    DemoSku("BB-BRD-MPL", "Maple Cutting Board, Large", "1.60", ("46", "30", "3"), "64.00", "21.00"),
    DemoSku("BB-FRP-34", "French Press, 34 oz", "0.80", ("22", "16", "16"), "39.00", "12.00"),
    DemoSku("BB-KTL-GSN", "Gooseneck Kettle, Matte Black", "0.90", ("30", "20", "18"), "79.00", "26.00"),
    DemoSku("BB-GRN-BUR", "Conical Burr Grinder", "2.70", ("30", "22", "18"), "149.00", "54.00"),
    DemoSku("BB-MUG-ST4", "Stoneware Mug, Set of 4", "1.90", ("30", "30", "13"), "48.00", "16.00"),
    DemoSku("BB-BWL-NST", "Nesting Mixing Bowls, 5 pc", "2.20", ("32", "32", "16"), "58.00", "18.00"),
    DemoSku("BB-TWL-WAF", "Waffle Bath Towel, Oat", "0.60", ("35", "25", "8"), "38.00", "11.00"),
    DemoSku("BB-SHT-QN", "Percale Sheet Set, Queen, White", "1.80", ("38", "30", "10"), "139.00", "46.00"),
    DemoSku("BB-DUV-QN", "Linen Duvet Cover, Queen, Sage", "1.50", ("38", "30", "9"), "219.00", "78.00"),
    DemoSku("BB-PIL-STD", "Down-Alternative Pillow, Standard", "0.90", ("52", "36", "12"), "49.00", "15.00"),
    DemoSku("BB-THR-KNT", "Chunky Knit Throw", "1.70", ("40", "32", "14"), "89.00", "29.00"),
    DemoSku("BB-CND-CED", "Cedar & Sage Candle, 8 oz", "0.55", ("10", "10", "11"), "32.00", "8.00"),
    DemoSku("BB-DIF-USB", "Ultrasonic Aroma Diffuser", "0.42", ("18", "18", "20"), "45.00", "14.00"),
    DemoSku("BB-LMP-BRS", "Brass Table Lamp", "2.60", ("46", "28", "28"), "129.00", "47.00"),
    DemoSku("BB-PLN-CER", "Ceramic Planter, 6 in", "1.10", ("20", "20", "18"), "29.00", "8.50"),
    DemoSku("BB-VAC-CRD", "Cordless Stick Vacuum", "3.10", ("70", "28", "18"), "249.00", "98.00"),
    DemoSku("BB-SCL-KIT", "Digital Kitchen Scale", "0.50", ("24", "18", "4"), "27.00", "8.00"),
    DemoSku("BB-CNT-GL6", "Glass Storage Containers, 6 pc", "2.80", ("34", "26", "16"), "42.00", "13.00"),
    DemoSku("BB-APR-CAN", "Canvas Apron, Charcoal", "0.35", ("30", "24", "3"), "36.00", "10.00"),
    DemoSku("BB-TEA-CST", "Cast Iron Teapot", "1.30", ("20", "18", "16"), "54.00", "17.00"),
    DemoSku("BB-DSH-RCK", "Bamboo Dish Rack", "1.40", ("45", "32", "10"), "39.00", "12.00"),
)

SKUS_BY_MERCHANT = {"northwind": NORTHWIND_SKUS, "bluebird": BLUEBIRD_SKUS}

# Fulfilment centres in real US logistics hubs; coordinates are their ZIP codes' centres.
LOCATIONS = (
    DemoLocation(
        "EWR1", "Edison NJ Fulfillment Center", "2250 Woodbridge Ave", "Edison", "NJ", "08817",
        40.5171, -74.3973, "America/New_York",
    ),
    DemoLocation(
        "ATL1", "Atlanta GA Fulfillment Center", "4000 Fulton Industrial Blvd SW", "Atlanta", "GA", "30336",
        33.7406, -84.5545, "America/New_York",
    ),
    DemoLocation(
        "ORD1", "Chicago IL Fulfillment Center", "5000 W 73rd St", "Chicago", "IL", "60638",
        41.7814, -87.7705, "America/Chicago",
    ),
    DemoLocation(
        "DFW1", "Dallas TX Fulfillment Center", "2600 Singleton Blvd", "Dallas", "TX", "75212",
        32.7829, -96.8714, "America/Chicago",
    ),
    DemoLocation(
        "RNO1", "Reno NV Fulfillment Center", "4855 Longley Ln", "Reno", "NV", "89502",
        39.4972, -119.7764, "America/Los_Angeles",
    ),
    DemoLocation(
        "ONT1", "Ontario CA Fulfillment Center", "1910 E Francis St", "Ontario", "CA", "91761",
        34.0316, -117.6187, "America/Los_Angeles",
    ),
    DemoLocation(
        "SEA1", "Seattle WA Fulfillment Center", "6200 E Marginal Way S", "Seattle", "WA", "98108",
        47.5413, -122.3129, "America/Los_Angeles",
    ),
)  # fmt: skip

# Where demo customers live: real ZIP codes across the contiguous United States.
DESTINATIONS = tuple(
    Destination(postal_code, city, region)
    for postal_code, city, region in (
        ("10001", "New York", "NY"),
        ("11201", "Brooklyn", "NY"),
        ("02116", "Boston", "MA"),
        ("19103", "Philadelphia", "PA"),
        ("20001", "Washington", "DC"),
        ("21201", "Baltimore", "MD"),
        ("06103", "Hartford", "CT"),
        ("12207", "Albany", "NY"),
        ("14202", "Buffalo", "NY"),
        ("15222", "Pittsburgh", "PA"),
        ("04101", "Portland", "ME"),
        ("05401", "Burlington", "VT"),
        ("23219", "Richmond", "VA"),
        ("28202", "Charlotte", "NC"),
        ("27601", "Raleigh", "NC"),
        ("29401", "Charleston", "SC"),
        ("30303", "Atlanta", "GA"),
        ("32801", "Orlando", "FL"),
        ("33130", "Miami", "FL"),
        ("33602", "Tampa", "FL"),
        ("35203", "Birmingham", "AL"),
        ("37203", "Nashville", "TN"),
        ("38103", "Memphis", "TN"),
        ("40202", "Louisville", "KY"),
        ("43215", "Columbus", "OH"),
        ("44113", "Cleveland", "OH"),
        ("45202", "Cincinnati", "OH"),
        ("46204", "Indianapolis", "IN"),
        ("48226", "Detroit", "MI"),
        ("53202", "Milwaukee", "WI"),
        ("55401", "Minneapolis", "MN"),
        ("60601", "Chicago", "IL"),
        ("63101", "Saint Louis", "MO"),
        ("64106", "Kansas City", "MO"),
        ("68102", "Omaha", "NE"),
        ("50309", "Des Moines", "IA"),
        ("70112", "New Orleans", "LA"),
        ("72201", "Little Rock", "AR"),
        ("73102", "Oklahoma City", "OK"),
        ("75201", "Dallas", "TX"),
        ("77002", "Houston", "TX"),
        ("78701", "Austin", "TX"),
        ("78205", "San Antonio", "TX"),
        ("79901", "El Paso", "TX"),
        ("80202", "Denver", "CO"),
        ("84101", "Salt Lake City", "UT"),
        ("85004", "Phoenix", "AZ"),
        ("85701", "Tucson", "AZ"),
        ("87102", "Albuquerque", "NM"),
        ("89101", "Las Vegas", "NV"),
        ("83702", "Boise", "ID"),
        ("59101", "Billings", "MT"),
        ("90012", "Los Angeles", "CA"),
        ("92101", "San Diego", "CA"),
        ("94103", "San Francisco", "CA"),
        ("95814", "Sacramento", "CA"),
        ("93721", "Fresno", "CA"),
        ("97205", "Portland", "OR"),
        ("97401", "Eugene", "OR"),
        ("98101", "Seattle", "WA"),
        ("98402", "Tacoma", "WA"),
        ("99201", "Spokane", "WA"),
    )
)

STREETS = (
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Ave", "Pine St", "Washington Blvd", "Lake Rd",
    "Hillcrest Dr", "Elm St", "Sunset Blvd", "River Rd", "Highland Ave", "Church St", "Market St",
)  # fmt: skip

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Mateo", "Isabella", "Lucas", "Mia",
    "Amir", "Priya", "Hiroshi", "Chloe", "Diego", "Fatima", "Grace", "Jamal", "Keiko", "Nadia", "Owen",
)  # fmt: skip

LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Nguyen", "Patel", "Kim", "Brown", "Martinez", "Okafor", "Rossi",
    "Cohen", "Silva", "Anderson", "Thompson", "Lee", "Walker", "Hernandez", "Murphy", "Chen", "Wright",
)  # fmt: skip
