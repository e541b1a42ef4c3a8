"""A small helpdesk's routed history, written by hand: four queues, as a team would route them."""

from __future__ import annotations

HISTORY: dict[str, list[str]] = {
    "billing": [
        "I was charged twice for my subscription this month",
        "Please refund the duplicate payment on my invoice",
        "Why is my invoice higher than last month?",
        "The amount on my bill is wrong, I was overcharged",
        "Can I get a refund for the annual plan I cancelled?",
        "My card was charged but the invoice says unpaid",
        "I need a copy of last month's invoice for my accountant",
        "The VAT on my invoice is calculated wrongly",
        "You billed me after I cancelled, please refund",
        "How do I change the billing address on my invoices?",
    ],
    "delivery": [
        "My parcel has not arrived yet, it was due on Monday",
        "The tracking number shows no movement for a week",
        "The courier left my package at the wrong address",
        "When will my order be delivered?",
        "My delivery arrived damaged, the box was crushed",
        "The package was marked delivered but I never got it",
        "Can you change the delivery address for my order?",
        "The shipment is stuck in customs, what should I do?",
        "Only half of my order arrived, one box is missing",
        "How long does shipping to Austria take?",
    ],
    "access": [
        "I cannot log in to my account, the password reset email never comes",
        "My account is locked after too many login attempts",
        "How do I turn on two-factor authentication?",
        "I forgot my password and the reset link has expired",
        "The app says my username does not exist",
        "I lost my phone and cannot get the login code",
        "Please unlock my account, I am locked out",
        "The sign in page keeps loading forever",
        "I want to change the email address I log in with",
        "My password does not work since yesterday",
    ],
    "returns": [
        "I want to return the shoes, they are too small",
        "How do I send back an item I do not want?",
        "Can I exchange the jacket for a larger size?",
        "The return label in the box is missing",
        "I sent the item back two weeks ago, where is my refund for the return?",
        "Is the return free of charge?",
        "The product is faulty, I would like to return it",
        "Can I return a sale item?",
        "I received the wrong colour and want to exchange it",
        "How many days do I have to return an order?",
    ],
}


# What the same helpdesk routed nowhere: sales pitches, job applications, another desk's mail.
ROUTED_NOWHERE = [
    "We can get your website to the top of Google, reply for a free SEO audit",
    "Our agency offers cheap web design packages for online shops",
    "I would like to apply for the warehouse assistant job you advertised",
    "Please find attached my CV for the open customer service position",
    "Partnership proposal: let us promote your brand on our influencer network",
    "Buy followers for your shop's social media account, best prices guaranteed",
    "Are you hiring drivers this summer? I have a clean licence",
    "Invitation to exhibit at the retail trade fair in Hamburg next spring",
    "Limited offer: office chairs and desks at wholesale prices for your team",
    "Dear hiring manager, I am writing to apply for the marketing internship",
]


def history_rows() -> tuple[list[str], list[str]]:
    texts = [text for queue in HISTORY for text in HISTORY[queue]]
    queues = [queue for queue in HISTORY for _ in HISTORY[queue]]
    return texts, queues


# A second billing queue, as a team that split one need in two might route it: the same requests,
# worded alike, under another name.
SECOND_BILLING = [
    "I was charged two times for my subscription this month",
    "Please give me a refund for the duplicate payment on my invoice",
    "My invoice is higher than last month, why?",
    "The amount on my bill is not right, you overcharged me",
    "Can I have my money back for the annual plan I cancelled?",
    "You took the money from my card but the invoice says it is unpaid",
    "Send me a copy of last month's invoice for my accountant please",
    "The VAT on my bill is wrong",
    "I cancelled and you still billed me, refund please",
    "Where do I change the billing address on my invoice?",
]
