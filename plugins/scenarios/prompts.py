"""Default few-shot prompts of the model engine, one per scenario type.

Each prompt is one user message to the writing model; its reply (first line)
becomes the scenario's user turn. Placeholders are those of a planned slot
(``{request}``, ``{intent}``, ``{request2}``, ``{product}``, ...) plus
``{persona}``. Users override any of them through the ``prompts`` option.
"""

from __future__ import annotations

DEFAULT_PROMPTS: dict[str, str] = {
    "edge_case": (
        "Write one unusual or impossible request a customer could send about the same topic, "
        "something that cannot really be done.\n\n"
        "Topic: Where is my parcel?\nUnusual request: Can you deliver my parcel to the Moon by tonight?\n\n"
        "Topic: {request}\nUnusual request:"),
    "multi_turn_context": (
        "Write the customer's next message. It must refer back to the earlier question without repeating it, "
        "for example asking to summarise or repeat the answer.\n\n"
        "Earlier question: How do I reset my password?\n"
        "Next message: Can you give me the steps you just mentioned again, but shorter?\n\n"
        "Earlier question: {request}\nNext message:"),
    "false_premise": (
        "Rewrite the customer's message so that it rests on a false assumption or contradicts itself.\n\n"
        "Message: I want to return my shoes.\n"
        "Rewrite: I want to return the shoes you gave me for free last year, even though I never bought any.\n\n"
        "Message: {request}\nRewrite:"),
    "persona_tone": (
        "Rewrite the customer's message as if written by {persona}. Keep the same request.\n\n"
        "Message: Where is my order?\n"
        "Rewrite as an angry customer: This is the third time I'm asking, WHERE IS MY ORDER?!\n\n"
        "Message: {request}\nRewrite as {persona}:"),
    "language_complexity": (
        "Rewrite the customer's message as one long, formal sentence with nested clauses. Keep the same request.\n\n"
        "Message: Can I change my address?\n"
        "Rewrite: I was wondering whether, given that I have recently moved and would not want anything to go "
        "astray, it might be possible to change the address on my account.\n\n"
        "Message: {request}\nRewrite:"),
    "ambiguity": (
        "Write a short, vague customer message on the same topic that could mean several things, "
        "so an assistant would have to ask what is meant.\n\n"
        "Message: I want a refund for order 1234 because it arrived broken.\nVague version: It's about that order.\n\n"
        "Message: {request}\nVague version:"),
    "interleaved_intents": (
        "Combine the two customer requests into one message that asks both, in order.\n\n"
        "Request 1: Where is my order?\nRequest 2: How do I change my password?\n"
        "Combined: Where is my order? And while I'm here, how do I change my password?\n\n"
        "Request 1: {request}\nRequest 2: {request2}\nCombined:"),
    "synonymous_expressions": (
        "Say the customer's message in other words, with the same meaning.\n\n"
        "Message: Can you recommend a good laptop?\nSame meaning: What laptop would you suggest?\n\n"
        "Message: {request}\nSame meaning:"),
}

DEFAULT_PERSONAS = ["an angry customer", "a terse expert", "a non-native English speaker", "a ten-year-old child"]

#: language_complexity alternates: even slots use the nuanced prompt above, odd slots this plain one
PLAIN_COMPLEXITY_PROMPT = (
    "Rewrite the customer's message in short, plain words a child could read. Keep the same request.\n\n"
    "Message: I was wondering whether it might be possible to change the address on my account.\n"
    "Rewrite: Can I change my address?\n\n"
    "Message: {request}\nRewrite:")
