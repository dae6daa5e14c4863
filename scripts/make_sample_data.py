#!/usr/bin/env python3
"""Write Workbench's sample customer-support data for "Northwind Outfitters".

Pure standard library and fully deterministic: the same seed writes the same
bytes. Run from the repository root::

    .venv/bin/python scripts/make_sample_data.py            # into sample_data/
    .venv/bin/python scripts/make_sample_data.py --out /tmp/x
    .venv/bin/python scripts/make_sample_data.py --table    # dirty-row table (markdown)

Files written (nothing else in the folder is touched):

- ``support.jsonl``: OpenAI chat JSONL with the extension keys ``id`` and
  ``label`` (the intent); clean conversations plus deliberately dirty lines.
- ``heldout.jsonl``: clean evaluation conversations from a separate template
  pool and separate slot values (no shared user message, id or order id).
- ``dirty_rows.json``: the answer key: every planted row with its 1-based
  line number, id, kind and (where it applies) the planted value.

How it works: every intent has a pool of user templates with slots
(``{order_id}``, ``{product}``, ``{name}``, ``{city}``, ``{date}``,
``{amount}``); a user message is a template with a random greeting and
sign-off, sometimes lower-cased or with a typo. The assistant answer is fixed
by the intent and by which slots the user actually mentioned: house opener,
an intent body that reuses those slot values and states fixed policy facts,
house sign-off. Multi-turn conversations either ask for a missing order
number and then answer, or answer an intent-specific follow-up question, and
sometimes end with a thank-you turn.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
from pathlib import Path

SEED = 20240611
N_SUPPORT = 340  # clean conversations in support.jsonl (dirty lines come on top)
N_HELDOUT = 60
MULTI_TURN_SHARE = 0.2
HELDOUT_MULTI_TURN = 6

SYSTEM_PROMPT = (
    "You are Northwind Outfitters' support assistant. Northwind Outfitters is an "
    "online shop for outdoor gear. Answer customers politely and concisely, follow "
    "Northwind's policies, and never ask for full card numbers or passwords."
)
OPENER = "Thanks for contacting Northwind Outfitters!"
OPENER_NAMED = "Thanks for contacting Northwind Outfitters, {name}!"
SIGN_OFF = "Is there anything else I can help you with today?"
FAREWELL = "You're welcome! Have a great day, and enjoy your time outdoors."
ASK_ORDER = "Could you please share your order number? It starts with NW- and you'll find it in your order confirmation email."

INTENTS = (
    "order_status", "cancel_order", "refund_request", "return_item", "shipping_info",
    "change_address", "account_access", "billing_issue", "product_question",
    "complaint", "warranty_claim", "payment_methods",
)
# Intents whose answer asks for the order number when the customer gave none.
ORDER_INTENTS = ("order_status", "cancel_order", "refund_request", "change_address")

# ----------------------------------------------------------------- slot values
# (support pool, held-out pool): the two never share a value.
PRODUCTS = (
    [
        ("Trailblazer 2P Tent", 249.00), ("Summit 45L Backpack", 159.95),
        ("Alpine Down Jacket", 219.00), ("Ridgeline Hiking Boots", 174.50),
        ("Cascade Rain Shell", 129.99), ("Basecamp Sleeping Bag", 139.00),
        ("Glacier Trekking Poles", 69.95), ("Canyon Water Filter", 44.99),
        ("Timberline Fleece", 79.00), ("Ember Camp Stove", 89.50),
        ("Pinecrest Hammock", 59.99), ("Harbor Kayak Paddle", 119.00),
        ("Switchback Trail Runners", 134.95), ("Tundra Insulated Bottle", 32.00),
        ("Meadow Picnic Blanket", 49.00), ("Granite Climbing Harness", 84.95),
        ("Riverbend Fishing Waders", 199.00), ("Aurora Lantern", 39.95),
        ("Boulder Crash Pad", 229.00), ("Coastline Dry Bag", 27.50),
        ("Foothill Merino Base Layer", 74.00), ("Sierra Sleeping Pad", 99.00),
        ("Redwood Camp Table", 64.99), ("Skyline Ski Gloves", 54.95),
        ("Prairie Sun Hat", 29.99), ("Evergreen Cookware Set", 74.50),
        ("Wildflower Trail Shorts", 45.00), ("Highland Wool Socks", 19.99),
        ("Compass Daypack", 64.00), ("Outpost Cooler", 179.00),
    ],
    [
        ("Northstar Headlamp", 34.95), ("Driftwood Camp Chair", 59.00),
        ("Solstice Sun Hoodie", 49.99), ("Marlin Snorkel Set", 44.00),
        ("Blizzard Snowshoes", 149.00), ("Cobalt Bike Helmet", 89.99),
        ("Quarry Approach Shoes", 139.50), ("Lakeside Paddleboard", 649.00),
        ("Falcon Binoculars", 189.00), ("Drumlin Rain Pants", 94.95),
    ],
)
NAMES = (
    [
        "Maria", "James", "Aisha", "Tom", "Priya", "Lukas", "Emily", "Carlos", "Hannah",
        "Kenji", "Olivia", "Mateo", "Grace", "Daniel", "Fatima", "Noah", "Chloe", "Ravi",
        "Sofia", "Ben", "Ingrid", "Marcus", "Leila", "Patrick", "Yuki", "Sam", "Nora",
        "Diego", "Amelia", "Jonas", "Zoe", "Omar", "Lily", "Ethan", "Mei", "Jack",
        "Elena", "Tariq", "Rosa", "Henry",
    ],
    [
        "Beatrix", "Cyrus", "Delphine", "Evander", "Freya", "Gideon", "Harriet", "Ignatius",
        "Juniper", "Kasimir", "Lorelei", "Montgomery", "Octavia", "Percival", "Wilhelmina",
    ],
)
CITIES = (
    [
        "Denver", "Seattle", "Portland", "Boise", "Salt Lake City", "Austin", "Chicago",
        "Minneapolis", "Boston", "Atlanta", "Phoenix", "San Diego", "Toronto", "Vancouver",
        "Calgary", "Anchorage", "Burlington", "Asheville", "Missoula", "Bend",
    ],
    ["Duluth", "Flagstaff", "Halifax", "Juneau", "Knoxville", "Ottawa", "Reno", "Spokane"],
)
ORDER_RANGES = ((10000, 69999), (70000, 99999))
MONTHS = ["March", "April", "May", "June"]

# ------------------------------------------------------------- user templates
# Each intent: (support templates, held-out templates). Never shared.
TEMPLATES: dict[str, tuple[list[str], list[str]]] = {
    "order_status": ([
        "Where is my order {order_id}? I placed it on {date} and haven't heard anything since.",
        "Can you tell me the status of order {order_id}?",
        "where's my {product}?? ordered it {date}",
        "I ordered a {product} on {date} and it still hasn't arrived. Any update?",
        "Has order {order_id} shipped yet?",
        "My tracking for {order_id} hasn't updated in three days. Is it lost?",
        "order {order_id} status pls",
        "Hello, I would like to know when my {product} (order {order_id}) will be delivered.",
        "It's been a week since I ordered my {product}. When will it get here?",
        "Could you check on order {order_id} for me? It was supposed to arrive by {date}.",
        "I'm going on a trip on {date} and really need my {product}. Is order {order_id} on its way?",
        "Any news on my order? My name is {name} and I ordered a {product} last week.",
    ], [
        "Is there an estimated delivery date for {order_id}? Bought a {product}.",
        "The website still says 'processing' for order {order_id}. What does that mean?",
        "Checking in on my {product} delivery, nothing has shown up at my door yet.",
        "Would you kindly confirm whether order {order_id} has left your warehouse?",
        "{order_id} - has this been dispatched??",
    ]),
    "cancel_order": ([
        "I need to cancel order {order_id}.",
        "Please cancel my order {order_id}, I ordered the wrong size.",
        "cancel {order_id}",
        "I accidentally ordered two of the {product}. Can you cancel the order?",
        "Hi, I changed my mind about the {product}. Can I still cancel order {order_id}?",
        "Is it too late to cancel my order from {date}?",
        "I'd like to cancel the {product} I just bought. Order number is {order_id}.",
        "Can you stop order {order_id} before it ships? I found it cheaper elsewhere.",
        "Please cancel my most recent order, I placed it by mistake. - {name}",
        "How do I cancel an order? It's {order_id}.",
        "I want to cancel my {product} order, it hasn't shipped yet I think.",
        "Could you please cancel order {order_id} and refund my card?",
    ], [
        "Scratch that order {order_id}, I don't need the {product} anymore.",
        "Is cancellation still possible for {order_id}? I ordered it an hour ago.",
        "I would like to withdraw my purchase of the {product}, please.",
        "Kindly void order {order_id}.",
        "Ordered the {product} by accident this morning, can it be undone?",
    ]),
    "refund_request": ([
        "When will I get my refund for order {order_id}?",
        "I returned my {product} two weeks ago and still no refund. Order {order_id}.",
        "I want a refund for the {product}.",
        "refund status for {order_id}?",
        "How long do refunds take? I sent back order {order_id} on {date}.",
        "Can I get my money back for order {order_id}? The {product} wasn't what I expected.",
        "I still haven't received the refund for my {product} that I returned on {date}.",
        "Hello, I'm writing to request a refund for order {order_id}.",
        "You guys said I'd get a refund but nothing has shown up on my card yet.",
        "Has my refund been processed? My name is {name}, order {order_id}.",
        "I'd like my money back for the {product} please, it doesn't fit.",
        "Where is my refund??? {order_id}",
    ], [
        "My bank shows no credit yet for the returned {product} (order {order_id}).",
        "Could you confirm the refund for {order_id} has been issued?",
        "The {product} went back to you last week - when does the money come back to me?",
        "Requesting reimbursement for order {order_id}.",
        "Still waiting on money back for {order_id}, it's been ages.",
    ]),
    "return_item": ([
        "How do I return my {product}?",
        "I'd like to return the {product} from order {order_id}.",
        "The {product} is too small. Can I send it back?",
        "return {product} {order_id}",
        "What's your return policy? I bought a {product} on {date}.",
        "Can I return order {order_id}? I haven't used anything.",
        "I need to send back the {product}, how do I get a return label?",
        "Hi, the {product} I got in order {order_id} isn't the colour I wanted. Can I return it?",
        "Is it possible to return a {product} after two weeks?",
        "I want to return something from order {order_id}. Do I have to pay for shipping?",
        "Good afternoon, I would like to return my {product}. Thank you, {name}.",
        "my {product} doesnt fit, how do i return it",
    ], [
        "What are the steps to ship back the {product} from {order_id}?",
        "The {product} turned out to be the wrong model, I'd like to return it.",
        "Is there a fee for sending back order {order_id}?",
        "Unopened {product}, want to send it back. Possible?",
        "Please advise on returning items from order {order_id}.",
    ]),
    "shipping_info": ([
        "Do you ship to {city}?",
        "How much is shipping to {city}?",
        "How long does delivery take?",
        "Is shipping free?",
        "If I order a {product} today, when will it arrive in {city}?",
        "Do you offer express shipping?",
        "what are the shipping costs",
        "Hi, what's the minimum order for free shipping?",
        "Can I get my {product} by next week if I live in {city}?",
        "Which carriers do you use, and how fast is standard shipping?",
        "Do you deliver on weekends in {city}?",
        "Hello, I'm {name}. How much does it cost to ship a {product}?",
    ], [
        "What would delivery cost me for a single {product}?",
        "Any chance of next-day delivery to {city}?",
        "Roughly how many days from checkout to doorstep?",
        "Does {city} qualify for your shipping options?",
        "Please outline your delivery fees and timelines.",
    ]),
    "change_address": ([
        "I need to change the shipping address on order {order_id}.",
        "I just moved to {city}. Can you update the address for order {order_id}?",
        "wrong address on my order!! can you fix it",
        "Can I change where my {product} is being delivered?",
        "Please send order {order_id} to my new address in {city} instead.",
        "I made a typo in my street address for order {order_id}.",
        "Can I update my delivery address after ordering?",
        "Hi, I'll be in {city} next week. Can order {order_id} go there?",
        "I need my {product} shipped to my office in {city} instead of home.",
        "change address {order_id}",
        "Good morning, I entered my old address by mistake. Order {order_id}. Regards, {name}",
        "Is it too late to change the delivery address for my {product}?",
    ], [
        "Could the parcel for {order_id} be rerouted to {city}?",
        "I've relocated to {city}; please amend the delivery details on my order.",
        "Apartment number missing on {order_id}, can you add it?",
        "Would like to redirect my {product} to a different address.",
        "New address for order {order_id}, how do I submit it?",
    ]),
    "account_access": ([
        "I can't log in to my account.",
        "I forgot my password.",
        "My account is locked, what do I do?",
        "password reset email never arrived",
        "I keep getting 'invalid password' even though I know it's right.",
        "How do I reset my password?",
        "Hi, I can't sign in to check on my {product} order.",
        "Locked out of my account after too many attempts. Help!",
        "The reset link says it has expired.",
        "I'm trying to log in but the page just reloads. My name is {name}.",
        "cant login",
        "I changed my email and now I can't access my Northwind account.",
    ], [
        "Sign-in keeps failing on the app, what should I try?",
        "Lost access to my profile, the password isn't accepted anymore.",
        "Haven't been able to get into my account since yesterday.",
        "Where do I request a new password?",
        "My login attempts are being rejected, please assist.",
    ]),
    "billing_issue": ([
        "I was charged twice for order {order_id}.",
        "Why was I charged {amount} when my order total was lower?",
        "There's a charge of {amount} on my card I don't recognise.",
        "double charged!! {amount} x2 for {order_id}",
        "I see two payments of {amount} for one order.",
        "My card was charged but the order {order_id} was cancelled.",
        "Can you explain the {amount} charge on my statement?",
        "Hello, I was billed {amount} for order {order_id} but the discount code wasn't applied.",
        "I think I was overcharged for my {product}.",
        "Payment went through twice, order {order_id}. Please fix.",
        "Why is there a pending charge of {amount} on my account?",
        "Hi, this is {name}. I was charged {amount} for an order I never placed.",
    ], [
        "A duplicate debit of {amount} appeared after I bought the {product}.",
        "Statement shows {amount} from Northwind twice - order {order_id}.",
        "I'm seeing an unexpected {amount} transaction, can you look into it?",
        "Billing error on {order_id}, the charge is wrong.",
        "Got billed more than the checkout price for my order.",
    ]),
    "product_question": ([
        "Is the {product} waterproof?",
        "What size {product} should I get? I'm usually a medium.",
        "How heavy is the {product}?",
        "Does the {product} come in other colours?",
        "is the {product} good for winter camping",
        "Can you tell me more about the {product}?",
        "What's the difference between the {product} and the cheaper one?",
        "Is the {product} in stock in {city}?",
        "How do I wash the {product}?",
        "Hi, does the {product} have a warranty?",
        "What is the {product} made of?",
        "Would the {product} work for a week-long hike? Thanks, {name}",
    ], [
        "Does the {product} run true to size?",
        "Curious whether the {product} is suitable for rain.",
        "What materials go into the {product}, and how should I store it?",
        "Quick one: {product}, worth it for beginners?",
        "Could you share the specs of the {product}?",
    ]),
    "complaint": ([
        "I'm very disappointed with my order {order_id}.",
        "The {product} arrived damaged and nobody answered my emails.",
        "This is the worst customer service I've ever had.",
        "my {product} fell apart after one trip. unacceptable",
        "Your delivery driver left my package in the rain. Order {order_id}.",
        "I've been waiting forever and nobody is helping me.",
        "I want to make a formal complaint about order {order_id}.",
        "The {product} looks nothing like the photos on your website.",
        "Hi, I'm {name} and I'm really unhappy with how my order {order_id} was handled.",
        "Third time I'm contacting you about {order_id}. Ridiculous.",
        "The staff member on the phone was rude to me.",
        "Very frustrated: the {product} was missing parts and the box was open.",
    ], [
        "Honestly appalled by the quality of the {product} I received.",
        "Nobody has replied about {order_id} for two weeks, this is not OK.",
        "I'd like to escalate a complaint regarding my last order.",
        "Terrible experience with order {order_id}, expected much better from you.",
        "The {product} was scratched and dirty when it arrived. Not happy.",
    ]),
    "warranty_claim": ([
        "The zipper on my {product} broke after three months. Is that covered by warranty?",
        "My {product} has a tear in the seam. I bought it last year.",
        "warranty claim for {product}, the buckle snapped",
        "How do I make a warranty claim? My {product} from order {order_id} is faulty.",
        "The sole of my {product} is coming off after six months.",
        "Is the {product} covered by a warranty? It stopped working.",
        "Hi, my {product} is leaking. Order {order_id}. Can I get it replaced?",
        "What does your warranty cover? My {product} has a defect.",
        "The stitching on my {product} came apart on the first trip.",
        "I'd like to file a warranty claim for order {order_id}, the {product} is broken.",
        "Is it possible to get my {product} repaired under warranty? Thanks, {name}",
        "my {product} broke, bought it {date}, warranty??",
    ], [
        "Defect on my {product}: the frame bent under normal use.",
        "Does your guarantee apply to a {product} that cracked within a year?",
        "The waterproof coating on my {product} is peeling. Covered?",
        "Please register a warranty request for the {product} in order {order_id}.",
        "Manufacturing fault with the {product}, what are my options?",
    ]),
    "payment_methods": ([
        "What payment methods do you accept?",
        "Can I pay with PayPal?",
        "Do you take American Express?",
        "Can I pay in instalments for the {product}?",
        "do u accept apple pay",
        "Is it possible to pay with a gift card?",
        "Can I use two different cards for one order?",
        "Hello, do you accept Klarna for an order of {amount}?",
        "When is my card charged, at checkout or when it ships?",
        "Can I pay by bank transfer?",
        "Do you accept Google Pay on the app?",
        "Hi, I'm {name}. Which cards can I use to buy a {product}?",
    ], [
        "Which wallets or cards are supported at checkout?",
        "Is Discover an option for paying?",
        "Could I spread the cost of the {product} over several payments?",
        "Are Northwind gift cards valid online?",
        "What forms of payment will your store take?",
    ]),
}

# Follow-up questions (support only): intent -> [(phrasings, fixed answer)].
FOLLOW_UPS: dict[str, list[tuple[list[str], str]]] = {
    "order_status": [
        (["How long does delivery usually take?", "how long after it ships?",
          "And how many days is delivery normally?"],
         "Standard delivery takes 3-5 business days after dispatch, and express delivery takes 1-2 business days."),
        (["Can I still upgrade to express shipping?", "is there a faster option?"],
         "Express shipping costs $12.95 and takes 1-2 business days. If your order has not shipped yet, we can upgrade it for you."),
    ],
    "cancel_order": [
        (["Will I get all my money back?", "do I get a full refund?"],
         "Yes. A cancelled order is refunded in full to your original payment method within 5-7 business days."),
    ],
    "refund_request": [
        (["Will it go back to my credit card?", "Which account does the money go to?"],
         "Refunds always go back to the original payment method used for the order, within 5-7 business days after we receive your return."),
    ],
    "return_item": [
        (["Do I have to pay for return shipping?", "Is the return label free?"],
         "Returns are free: the prepaid return label is included when you start the return under My Orders."),
        (["Can I exchange it for another size instead?", "could i swap it for a different size?"],
         "Yes. Choose Exchange instead of Refund when you start the return under My Orders, and we'll ship the new size as soon as the carrier scans your return."),
    ],
    "shipping_info": [
        (["Do you ship internationally?", "What about shipping outside the US?"],
         "We currently ship within the United States and Canada. Orders to Canada take 5-8 business days, and any import duties are shown at checkout."),
    ],
    "change_address": [
        (["How will I know it worked?", "Will you confirm the change?"],
         "You'll receive an email confirming the new delivery address as soon as the change is made, and the tracking page will show the updated address."),
    ],
    "account_access": [
        (["I tried that and still nothing.", "The email still isn't coming."],
         "Please check your spam folder and make sure you're using the email address on your Northwind account. If the email still doesn't arrive within 15 minutes, reply here and we'll verify your identity and reset the password for you."),
    ],
    "billing_issue": [
        (["When will the extra charge be refunded?", "how long until I get that money back?"],
         "Any duplicate charge is refunded to your original payment method within 5-7 business days once our billing team has confirmed it."),
    ],
    "product_question": [
        (["Is it in stock?", "do you have it in stock right now?"],
         "The stock level for each size and colour is shown on the product page. If an option is sold out, select Notify me and we'll email you as soon as it's back."),
    ],
    "complaint": [
        (["Will I get some kind of compensation?", "What are you going to do about it?"],
         "Our customer care team will review your case and can offer a replacement, a refund or store credit. A team lead will contact you by email within 24 hours."),
    ],
    "warranty_claim": [
        (["How long does the repair take?", "how long until I get it back?"],
         "Once your claim is approved, the repair or replacement is shipped within 7-10 business days, free of charge."),
    ],
    "payment_methods": [
        (["Is it safe to save my card on your site?", "do you store my card details?"],
         "Yes. Card payments are handled by our PCI-compliant payment provider, and Northwind never stores your full card number."),
    ],
}
# The customer supplies the order number asked for: (support, held-out).
GIVE_ORDER = (
    ["It's {order_id}.", "Sure, the order number is {order_id}.", "{order_id}",
     "Oh sorry, it's {order_id}", "Order number: {order_id}"],
    ["Here you go: {order_id}", "The reference is {order_id}.", "Found it, {order_id}"],
)
# The customer's thank-you turn: (support, held-out).
CLOSINGS = (
    ["No, that's all. Thanks!", "that's everything, thank you", "Great, thanks for your help!",
     "Perfect, that's all I needed.", "ok thanks"],
    ["That covers it, much appreciated.", "Nothing else for now, cheers!"],
)
GREETINGS = ["", "", "", "Hi, ", "Hello, ", "Hey there! ", "Good morning, ", "Hi team, ",
             "Dear Northwind Outfitters, "]
SUFFIXES = ["", "", "", " Thanks!", " Thank you.", " Cheers", " Thanks, {name}", " Regards, {name}"]


# ------------------------------------------------------------ assistant answers
def answer_body(intent: str, s: dict[str, str]) -> str:
    """The intent-specific middle of an answer, from the slots the user mentioned."""
    order, product, city, amount = s.get("order_id"), s.get("product"), s.get("city"), s.get("amount")
    for_product = f" for the {product}" if product else ""
    items = f"your {product}" if product else "your items"
    if intent == "order_status":
        if order:
            return (f"I've looked up order {order}{for_product}. Orders leave our warehouse within 1-2 business days, "
                    "and standard delivery takes 3-5 business days after dispatch. The tracking link is in your "
                    "shipping confirmation email, and you can also follow the status under My Orders in your account.")
        return (f"I'd be happy to check on your order{for_product}. {ASK_ORDER} "
                "Standard delivery takes 3-5 business days after dispatch.")
    if intent == "cancel_order":
        if order:
            return (f"I can help you cancel order {order}{for_product}. Orders can be cancelled free of charge until "
                    "they leave our warehouse, which is usually within 2 hours of purchase. If it has not shipped yet, "
                    "you'll receive a cancellation email and a full refund to your original payment method within "
                    "5-7 business days. If it has already shipped, you can return it within 30 days instead.")
        return (f"I can help you cancel your order{for_product}. {ASK_ORDER} Orders can be cancelled free of charge "
                "until they leave our warehouse, usually within 2 hours of purchase.")
    if intent == "refund_request":
        if order:
            return (f"I've checked the refund for order {order}{for_product}. Refunds are issued to your original "
                    "payment method within 5-7 business days after we receive and inspect your return, and you'll get "
                    "an email as soon as it has been processed.")
        return (f"I'm sorry you're still waiting on your refund{for_product}. {ASK_ORDER} Refunds are issued to your "
                "original payment method within 5-7 business days after we receive your return.")
    if intent == "return_item":
        from_order = f" from order {order}" if order else ""
        return (f"You can return {items}{from_order} within 30 days of delivery, as long as everything is unused and in "
                "the original packaging. Start the return under My Orders > Return an item to print a free prepaid "
                "return label. Once we receive your return, your refund is issued within 5-7 business days.")
    if intent == "shipping_info":
        where = f"Yes, we deliver to {city}. " if city else ""
        return (f"{where}Standard shipping is free on orders over $50 and takes 3-5 business days; below $50 it costs "
                "$5.95. Express shipping costs $12.95 and takes 1-2 business days. Orders placed before 2 pm ET "
                "ship the same business day.")
    if intent == "change_address":
        to_city = f" to your new address in {city}" if city else ""
        if order:
            return (f"I can update the delivery address for order {order}{to_city} as long as it has not shipped yet. "
                    "Please reply with the full new address, including the postal code, and we'll confirm the change "
                    "by email. If the order has already shipped, we can ask the carrier to redirect it.")
        return (f"I can update the delivery address{to_city} as long as the order has not shipped yet. {ASK_ORDER} "
                "Please also include the full new address with the postal code.")
    if intent == "account_access":
        return ("I'm sorry you're having trouble signing in. Please use the Forgot password link on the sign-in page "
                "to get a reset email; the link is valid for 24 hours. After 5 failed attempts your account is locked "
                "for 30 minutes for your security, so please wait before trying again.")
    if intent == "billing_issue":
        charge = f"the charge of {amount}" if amount else "the unexpected charge"
        on_order = f" on order {order}" if order else ""
        return (f"I'm sorry about {charge}{on_order}. A second charge is often a pending authorisation that disappears "
                "from your statement within 3-5 business days. If it is still there after that, reply with the date "
                "and the last four digits of the card, and our billing team will refund any duplicate charge within "
                "5-7 business days.")
    if intent == "product_question":
        return (f"Great question about the {product}! You'll find sizing, materials, weight and care instructions on "
                "its product page under Specs. All Northwind gear comes with a 2-year warranty against manufacturing "
                "defects, and if it isn't right for you, you can return it unused within 30 days.")
    if intent == "complaint":
        about = f" with order {order}" if order else (f" with your {product}" if product else "")
        return (f"I'm very sorry about your experience{about}. I've passed your feedback to our customer care team, "
                "and a team lead will contact you by email within 24 hours to make this right.")
    if intent == "warranty_claim":
        which = f"order {order}" if order else "the order"
        return (f"I'm sorry your {product} has a problem. All Northwind gear has a 2-year warranty against "
                f"manufacturing defects. Open My Orders, choose {which}, select Warranty claim and upload a photo of "
                "the defect. Once approved, we'll send a free repair or replacement within 7-10 business days.")
    if intent == "payment_methods":
        return ("We accept Visa, Mastercard, American Express, Discover, PayPal, Apple Pay, Google Pay and Northwind "
                "gift cards. On orders over $100 you can also split the payment into 4 interest-free instalments with "
                "Klarna. Your card is only charged when your order ships.")
    raise ValueError(f"unknown intent {intent!r}")


def first_answer(intent: str, s: dict[str, str]) -> str:
    opener = OPENER_NAMED.format(name=s["name"]) if s.get("name") else OPENER
    return f"{opener} {answer_body(intent, s)} {SIGN_OFF}"


def slots_in(text: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


# ------------------------------------------------------------------ generator
class Pools:
    """Slot values of one file; order ids are never reused."""

    def __init__(self, rng: random.Random, side: int):
        self.rng, self.side = rng, side
        lo, hi = ORDER_RANGES[side]
        self._orders = rng.sample(range(lo, hi + 1), 600)

    def order_id(self) -> str:
        return f"NW-{self._orders.pop()}"

    def slots(self) -> dict[str, str]:
        r = self.rng
        product, price = r.choice(PRODUCTS[self.side])
        day = r.randint(1, 28)
        month = r.choice(MONTHS)
        mnum = MONTHS.index(month) + 3
        date = r.choice([f"{month} {day}", f"{day} {month}", f"{mnum}/{day}", f"2024-{mnum:02d}-{day:02d}"])
        amount = price if r.random() < 0.6 else r.choice([12.95, 5.95, 38.40, 86.20, 154.35, 312.80])
        return {
            "order_id": self.order_id(), "product": product, "name": r.choice(NAMES[self.side]),
            "city": r.choice(CITIES[self.side]), "date": date, "amount": f"${amount:.2f}",
        }


def typo(rng: random.Random, template: str) -> str:
    """Swap two inner letters of one longer plain word (never inside a slot)."""
    words = template.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not spots:
        return template
    i = rng.choice(spots)
    w = words[i]
    j = rng.randint(1, len(w) - 3)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def style(rng: random.Random, template: str) -> str:
    """Dress a core template: greeting, sign-off, informal casing, a typo."""
    if not template.startswith(("Hi", "Hello", "Good", "Dear")):
        greeting = rng.choice(GREETINGS)
        if greeting.endswith(", ") and not template.startswith(("I ", "I'", "{")):
            template = template[0].lower() + template[1:]
        template = greeting + template
    suffixes = [x for x in SUFFIXES if "{name}" not in x] if "{name}" in template else SUFFIXES
    template += rng.choice(suffixes)
    roll = rng.random()
    if roll < 0.12:
        template = template.lower().rstrip(".!")
    elif roll < 0.20:
        template = typo(rng, template)
    return template


def make_conversation(rng, pools, intent, templates, multi, side) -> dict:
    """One clean conversation: {"label", "messages"} (id assigned later)."""
    s = pools.slots()
    if multi == "ask_order":
        templates = [t for t in templates if "{order_id}" not in t]
    text = style(rng, rng.choice(templates))
    used = {k: s[k] for k in slots_in(text)}
    msgs = [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": text.format(**s)},
            {"role": "assistant", "content": first_answer(intent, used)}]
    if multi == "ask_order":
        used["order_id"] = s["order_id"]
        msgs += [{"role": "user", "content": rng.choice(GIVE_ORDER[side]).format(**s)},
                 {"role": "assistant", "content": f"Thank you! {answer_body(intent, used)} {SIGN_OFF}"}]
    elif multi == "follow_up":
        phrasings, answer = rng.choice(FOLLOW_UPS[intent])
        msgs += [{"role": "user", "content": rng.choice(phrasings)},
                 {"role": "assistant", "content": f"{answer} {SIGN_OFF}"}]
    if multi and rng.random() < 0.4:
        msgs += [{"role": "user", "content": rng.choice(CLOSINGS[side])},
                 {"role": "assistant", "content": FAREWELL}]
    return {"label": intent, "messages": msgs, "slots": used}


def make_clean(rng: random.Random, side: int, n: int, n_multi: int) -> list[dict]:
    pools = Pools(rng, side)
    labels = [INTENTS[i % len(INTENTS)] for i in range(n)]
    rng.shuffle(labels)
    # Held-out multi-turn rows all ask for the order number, so only those intents qualify.
    eligible = [i for i, t in enumerate(labels) if side == 0 or t in ORDER_INTENTS]
    multi_at = set(rng.sample(eligible, n_multi))
    seen: set[str] = set()
    rows = []
    for i, intent in enumerate(labels):
        kind = None
        if i in multi_at:
            if side == 1 or (intent in ORDER_INTENTS and rng.random() < 0.5):
                kind = "ask_order"
            else:
                kind = "follow_up"
        for _ in range(50):  # no two clean conversations share a user message
            conv = make_conversation(rng, pools, intent, TEMPLATES[intent][side], kind, side)
            key = conv["messages"][1]["content"]
            if key not in seen:
                break
        seen.add(key)
        rows.append(conv)
    return rows


def row_json(row: dict) -> str:
    return json.dumps({"id": row["id"], "label": row["label"], "messages": row["messages"]}, ensure_ascii=False)


def single(intent: str, user: str, slots: dict[str, str], answer: str | None = None) -> dict:
    return {"label": intent, "slots": slots, "messages": [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
        {"role": "assistant", "content": first_answer(intent, slots) if answer is None else answer}]}


def log_lines(rng: random.Random, n: int) -> str:
    services = ["auth-service", "session", "api-gateway", "ui.LoginView", "token-cache", "http"]
    events = [
        "token refresh failed: upstream returned 401 Unauthorized",
        "retrying request after backoff of 800 ms",
        "GET /api/v2/account/profile responded 503 Service Unavailable",
        "render LoginView took 1240 ms, exceeding frame budget",
        "cookie store rejected session cookie: SameSite policy mismatch",
        "websocket closed with code 1006, reconnecting",
        "cache miss for key account.preferences, fetching from network",
        "NullPointerException in LoginViewModel.onSubmit at line 212",
    ]
    lines = []
    for k in range(n):
        sec = k * 7 % 60
        lines.append(f"2024-05-14T10:{(k // 9) % 60:02d}:{sec:02d}.{rng.randint(100, 999)}Z "
                     f"{rng.choice(['ERROR', 'WARN', 'INFO', 'DEBUG'])} [{rng.choice(services)}] "
                     f"{rng.choice(events)} req={rng.getrandbits(32):08x} thread=main-{rng.randint(1, 8)}")
    return "\n".join(lines)


def make_dirty(rng: random.Random, clean: list[dict]) -> list[dict]:
    """The planted rows. Each: row (or raw text), kind, note, optional value/source."""
    pools = Pools(random.Random(f"{SEED}-dirty"), 0)
    P = dict(PRODUCTS[0])
    out: list[dict] = []

    def plant(kind, note, row=None, raw=None, value=None, source=None, dirty=True):
        out.append({"kind": kind, "note": note, "row": row, "raw": raw, "value": value,
                    "source": source, "dirty": dirty})

    picks = rng.sample(range(len(clean)), 40)
    # exact duplicates: the same conversation under a new id
    for i in picks[:3]:
        plant("exact_duplicate", "same conversation as another row, new id",
              row={**clean[i], "messages": [dict(m) for m in clean[i]["messages"]]}, source=i)
    # near duplicates: a changed name, or one changed word
    named = [i for i in picks[3:] if "name" in clean[i]["slots"]]
    for i in named[:2]:
        old = clean[i]["slots"]["name"]
        new = rng.choice([n for n in NAMES[0] if n[0] != old[0]])
        msgs = [{**m, "content": re.sub(rf"\b{old}\b", new, m["content"])} for m in clean[i]["messages"]]
        plant("near_duplicate", f"another row with the name {old} changed to {new}",
              row={**clean[i], "messages": msgs}, source=i)
    swaps = [(" my ", " our "), ("order", "purchase"), ("Can ", "Could ")]
    for i in picks[3:]:
        user = clean[i]["messages"][1]["content"]
        hit = next(((a, b) for a, b in swaps if a in user), None)
        if hit and "name" not in clean[i]["slots"] and i not in picks[:3]:
            msgs = [dict(m) for m in clean[i]["messages"]]
            msgs[1]["content"] = user.replace(hit[0], hit[1], 1)
            plant("near_duplicate", f"another row with one word changed ({hit[0].strip()!r} -> {hit[1].strip()!r})",
                  row={**clean[i], "messages": msgs}, source=i)
            break

    o = pools.order_id
    # emails
    email = "maria.gonzalez84@example.com"
    plant("email", "customer email address in the user turn", value=email, row=single(
        "account_access", f"I can't log in. My account email is {email}, can you reset my password?", {}))
    email = "j.okafor+outdoors@mail.example.org"
    oid = o()
    plant("email", "customer email address in the user turn", value=email, row=single(
        "order_status", f"Any update on order {oid}? Please reply to {email}, I don't check my other inbox.",
        {"order_id": oid}))
    # phone numbers, US and international
    for intent, phone, text in [
        ("refund_request", "(415) 555-0132", "Can someone call me at {phone} about the refund for order {o}?"),
        ("order_status", "+1 212-555-0147", "Where is order {o}? Text me at {phone} when it ships."),
        ("change_address", "+44 20 7946 0958", "I'm in London until Friday, call {phone} before changing the address on order {o}."),
        ("complaint", "+49 30 90182733", "Nobody called me back about order {o}! My number is {phone}, I'm in Berlin."),
    ]:
        oid = o()
        plant("phone", "phone number in the user turn", value=phone,
              row=single(intent, text.format(phone=phone, o=oid), {"order_id": oid}))
    # card numbers: three pass the Luhn check, one does not
    for card, ok in [("4111 1111 1111 1111", True), ("5555-5555-5555-4444", True),
                     ("378282246310005", True), ("4111 1111 1111 1112", False)]:
        oid = o()
        amount = "$159.95"
        text = f"My card {card} was charged {amount} twice for order {oid}. Please refund one of them."
        plant("card_number" if ok else "card_like_not_luhn",
              "card number (passes Luhn)" if ok else "card-like number that fails Luhn: not a real card",
              value=card, row=single("billing_issue", text, {"order_id": oid, "amount": amount}))
    # IBAN
    iban = "DE89 3704 0044 0532 0130 00"
    oid = o()
    plant("iban", "bank account number (IBAN) in the user turn", value=iban, row=single(
        "refund_request", f"Can you send the refund for order {oid} to my bank instead? IBAN {iban}, thanks.",
        {"order_id": oid}))
    # mojibake (UTF-8 read as cp1252)
    oid = o()
    plant("mojibake", "UTF-8 decoded as cp1252 in the user turn", row=single(
        "order_status", f"Hi, Iâ€™m still waiting for order {oid} and I donâ€™t have a tracking number yet.",
        {"order_id": oid}))
    oid = o()
    plant("mojibake", "UTF-8 decoded as cp1252 in the user turn", row=single(
        "return_item", f"The Alpine Down Jacket doesnâ€™t fit â€“ Iâ€™d like to return it. Order {oid}.",
        {"order_id": oid, "product": "Alpine Down Jacket"}))
    oid = o()
    row = single("cancel_order", f"please cancel {oid}", {"order_id": oid})
    row["messages"][2]["content"] = row["messages"][2]["content"].replace("'", "â€™")
    plant("mojibake", "UTF-8 decoded as cp1252 in the assistant turn", row=row)
    # smart quotes and zero-width characters
    oid = o()
    plant("smart_quotes_zero_width", "curly quotes and a zero-width space inside the order id", row=single(
        "order_status", f"I ordered the \u201cSummit 45L Backpack\u201d and it\u2019s still not here. "
        f"Order {oid[:3]}\u200b{oid[3:]}.", {"order_id": oid, "product": "Summit 45L Backpack"}))
    plant("smart_quotes_zero_width", "zero-width joiner, word joiner and BOM inside words", row=single(
        "product_question", "Is the Cascade\u200d Rain Shell \u2018really\u2019 water\u2060proof?\ufeff",
        {"product": "Cascade Rain Shell"}))
    # empty assistant answers
    oid = o()
    plant("empty_answer", "assistant content is the empty string", row=single(
        "refund_request", f"When do I get my refund for {oid}?", {"order_id": oid}, answer=""))
    plant("empty_answer", "assistant content is only whitespace", row=single(
        "shipping_info", "Do you ship to Denver?", {"city": "Denver"}, answer="  \n "))
    # boilerplate refusal
    oid = o()
    plant("refusal", "boilerplate AI refusal instead of the house answer", row=single(
        "order_status", f"Can you track order {oid} for me?", {"order_id": oid},
        answer="As an AI language model, I cannot access order information or track packages. "
               "Please contact the retailer directly for help with your order."))
    # over-long rows (pasted logs)
    text = "The app crashes every time I try to log in. Here is the log from my phone:\n" + log_lines(rng, 200)
    plant("overlong", f"user pasted an app log ({len(text.split())} words)",
          row=single("account_access", text, {}))
    oid = o()
    text = f"Order {oid} shows an error on the tracking page. Console output below:\n" + log_lines(rng, 300)
    plant("overlong", f"user pasted a debug log ({len(text.split())} words) with an order id",
          row=single("order_status", text, {"order_id": oid}))
    # repeated-phrase spam
    plant("spam_answer", "assistant answer repeats one phrase 120 times", row=single(
        "payment_methods", "Can I pay with PayPal?", {},
        answer=OPENER + " " + "Please check your email. " * 120 + SIGN_OFF))
    # decoys: numbers that are NOT personal data (clean rows)
    oid, oid2 = o(), o()
    plant("decoy_not_pii", "order ids, prices, SKU, quantities, a date and a carrier tracking number; no PII",
          dirty=False, row=single(
              "billing_issue", f"Orders {oid} and {oid2}: I paid $1,249.00 for 2 x Trailblazer 2P Tent "
              f"(SKU 100234-55) plus $12.95 express on 2024-05-17, but the total shows $1,261.95 twice. "
              "Tracking 1Z999AA10123456784.", {"order_id": oid, "amount": "$1,261.95"}))
    oid = o()
    plant("decoy_not_pii", "order id, price, postal code and a gift card balance; no PII", dirty=False, row=single(
        "payment_methods", f"Can I use my gift card (balance $75.00) on order {oid} for the "
        f"Outpost Cooler at ${P['Outpost Cooler']:.2f}? Shipping to 80202.", {}))
    # malformed lines
    oid = o()
    whole = row_json({**single("order_status", f"Is order {oid} on its way?", {"order_id": oid}), "id": "@ID@"})
    plant("invalid_json", "line cut off mid-string (unterminated JSON)", raw=whole[: len(whole) // 2])
    row = single("refund_request", "How long do refunds take?", {})
    row["messages"][2]["role"] = "agent"
    plant("unknown_role", "the answer has role 'agent'", row=row)
    row = single("complaint", "I'm so annoyed with the delays.", {})
    row["messages"] = row["messages"][:2]
    plant("no_assistant", "system and user turns only, no assistant message", row=row)
    plant("blank_line", "an empty line between two rows", raw="")
    return out


def build(seed: int = SEED) -> dict[str, bytes]:
    """Every output file's bytes, by file name."""
    rng = random.Random(seed)
    clean = make_clean(rng, 0, N_SUPPORT, round(N_SUPPORT * MULTI_TURN_SHARE))
    planted = make_dirty(rng, clean)

    # Insert each planted row at a random place (duplicates after their source).
    entries = [{"row": c, "kind": None, "index": i} for i, c in enumerate(clean)]
    for p in planted:
        lo = 1
        if p["source"] is not None:
            lo = next(k for k, e in enumerate(entries) if e["kind"] is None and e["index"] == p["source"]) + 1
        entries.insert(rng.randint(min(lo, len(entries) - 1), len(entries) - 1), {**p, "index": None})

    lines, manifest, ids = [], [], {}
    n = 0
    for k, e in enumerate(entries):
        line_no = k + 1
        if e["kind"] == "blank_line":
            lines.append("")
        else:
            n += 1
            rid = f"nw-{n:04d}"
            ids[id(e)] = rid
            if e.get("raw") is not None:
                lines.append(e["raw"].replace("@ID@", rid))
            else:
                lines.append(row_json({**e["row"], "id": rid}))
        if e["kind"] is not None:
            item = {"line": line_no, "id": ids.get(id(e)), "kind": e["kind"], "dirty": e["dirty"], "note": e["note"]}
            if e["value"] is not None:
                item["value"] = e["value"]
            manifest.append((item, e))
    index_to_entry = {e["index"]: e for e in entries if e["kind"] is None}
    for item, e in manifest:
        if e["source"] is not None:
            item["duplicate_of"] = ids[id(index_to_entry[e["source"]])]

    held_rng = random.Random(f"{seed}-heldout")
    held = make_clean(held_rng, 1, N_HELDOUT, HELDOUT_MULTI_TURN)
    held_lines = [row_json({**r, "id": f"ho-{i + 1:03d}"}) for i, r in enumerate(held)]

    return {
        "support.jsonl": ("\n".join(lines) + "\n").encode("utf-8"),
        "heldout.jsonl": ("\n".join(held_lines) + "\n").encode("utf-8"),
        "dirty_rows.json": (json.dumps([m for m, _ in manifest], ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
    }


def table(manifest: list[dict]) -> str:
    rows = ["| line | id | kind | what |", "|---:|---|---|---|"]
    for m in manifest:
        what = m["note"] + (f": `{m['value']}`" if "value" in m else "")
        what += f" (of {m['duplicate_of']})" if "duplicate_of" in m else ""
        rows.append(f"| {m['line']} | {m['id'] or '-'} | {m['kind']} | {what} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_data")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--table", action="store_true", help="print the dirty-row table (markdown) instead")
    args = ap.parse_args(argv)
    files = build(args.seed)
    if args.table:
        print(table(json.loads(files["dirty_rows.json"])))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        lines = data.count(b"\n")
        print(f"wrote {args.out / name} ({lines} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
