"""The assistant's fixed English and Leichte Sprache texts that the actions use (the German
ones stay beside their actions). Free of Rasa imports, so tests/intents/test_readability.py
checks every Leichte Sprache text here."""

from __future__ import annotations

from contract.language import Register

HINTS = {
    "service": "Bitte nennen Sie die Dienstleistung, zum Beispiel Personalausweis oder Reisepass.",
    "appointment_date": "Bitte nennen Sie einen Tag, zum Beispiel Dienstag oder den 8. Dezember.",
    "appointment_time": "Bitte nennen Sie eine Uhrzeit, zum Beispiel 10:30 Uhr.",
    "person_name": "Bitte nennen Sie Vor- und Nachnamen.",
    "phone_number": "Bitte nennen Sie eine Telefonnummer mit Vorwahl, zum Beispiel 0151 23456789.",
    "booking_reference": "Bitte nennen Sie die Buchungsnummer. Sie beginnt mit B, zum Beispiel "
    "B-K7QX2M.",
    "callback_window": "Bitte sagen Sie: vormittags, nachmittags oder egal.",
}

# The citizen asked for a language the assistant does not speak: say which it speaks and
# offer a person (the rules hand over on a yes).
OTHER_LANGUAGE_DE = (
    "Entschuldigung, ich kann nur Deutsch und Englisch. I can answer in German and in English, "
    "just write: English please. Soll ich Sie mit einer Mitarbeiterin oder einem Mitarbeiter "
    "verbinden?",
    "Entschuldigung, ich kann nur Deutsch und Englisch. I can speak German and English, just "
    "say: English please. Soll ich Sie mit einem Menschen verbinden? Sagen Sie ja oder nein.",
)
OTHER_LANGUAGE_EN = (
    "Sorry, I can only answer in English and in German. Shall I connect you to a member of staff?",
    "Sorry, I can only speak English and German. Shall I connect you to a person? Please say "
    "yes or no.",
)
OTHER_LANGUAGE_EINFACH = (
    "Ich kann nur Deutsch und Englisch. Soll ich Sie mit einem Menschen verbinden?",
    "Ich kann nur Deutsch und Englisch. Soll ich Sie mit einem Menschen verbinden? Sagen Sie ja "
    "oder nein.",
)
# The citizen chose German, English or Leichte Sprache (request, widget button or preset).
SWITCHED_DE = (
    "Gern, ich antworte Ihnen ab jetzt auf Deutsch. Wie kann ich Ihnen helfen?",
    "Gern, ich spreche ab jetzt Deutsch mit Ihnen. Wie kann ich Ihnen helfen?",
)
SWITCHED_EN = (
    "Of course, I will continue in English. How can I help you? To switch back, write: "
    "Deutsch bitte.",
    "Of course, I will continue in English. How can I help you?",
)
SWITCHED_EINFACH = (
    "Gern. Ich schreibe jetzt in Leichter Sprache. Wie kann ich Ihnen helfen?",
    "Gern. Ich spreche jetzt in Leichter Sprache. Wie kann ich Ihnen helfen?",
)


GREETING_CHAT_EN = (
    "Hello! I am the digital assistant of the town hall of Musterstadt, an automated system, "
    "not a person. You can ask for a member of staff at any time: during service hours I put "
    "you through where possible, otherwise you get a call back. In an emergency, call 112 "
    "(fire brigade, ambulance) or 110 (police). How can I help you?"
)
GREETING_VOICE_EN = (
    "Hello, this is the automated voice assistant of the town hall of Musterstadt. You are "
    "talking to a computer, not a person. If you want to talk to a member of staff, just say "
    "so. How can I help you?"
)
GREETING_CHAT_EINFACH = (
    "Guten Tag! Ich bin ein Computer. Ich bin kein Mensch. Ich helfe Ihnen bei Fragen zur "
    "Stadt-Verwaltung Musterstadt. Sie möchten mit einem Menschen sprechen? Dann schreiben Sie: "
    "Mitarbeiter. Ist es ein Notfall? Dann rufen Sie 112 oder 110 an. Wie kann ich Ihnen helfen?"
)
GREETING_VOICE_EINFACH = (
    "Guten Tag! Hier spricht ein Computer. Ich bin kein Mensch. Sie möchten mit einem Menschen "
    "sprechen? Dann sagen Sie: Mitarbeiter. Wie kann ich Ihnen helfen?"
)


ASK_TEXTS_EN = {
    "service": (
        "Which service do you need an appointment for? For example ID card, passport, "
        "registering your address or vehicle registration.",
        "What do you need the appointment for? For example ID card, passport or registering "
        "your address.",
    ),
    "person_name": ("What name shall I book the appointment under?",) * 2,
    "phone_number": (
        "What phone number can we reach you at?",
        "What phone number can we reach you at? Please say the number digit by digit.",
    ),
    "booking_reference": (
        "Please tell me your booking number. It starts with B, for example B-K7QX2M.",
        "Please tell me your booking number, character by character. It starts with the letter B.",
    ),
    "damage_type": (
        "What would you like to report? For example a pothole, a broken street light, "
        "illegally dumped rubbish or graffiti.",
    )
    * 2,
    "damage_location": (
        "Where exactly is it? Please give the street and house number or describe the place "
        "in your own words.",
        "Where exactly is it? Please tell me the street and, if possible, the house number.",
    ),
    "callback_window": ("When is the best time to call you back, morning or afternoon?",) * 2,
    "street": (
        "Which street do you live in? The collection dates depend on the street.",
        "Which street do you live in?",
    ),
}
ASK_TEXTS_EINFACH = {
    "service": (
        "Wofür brauchen Sie einen Termin? Zum Beispiel für einen Ausweis. Oder für eine neue "
        "Wohnung.",
    )
    * 2,
    "person_name": ("Wie heißen Sie? Bitte sagen Sie Ihren Vor-Namen und Nach-Namen.",) * 2,
    "phone_number": (
        "Wie ist Ihre Telefon-Nummer? Dann können wir Sie anrufen.",
        "Wie ist Ihre Telefon-Nummer? Bitte sagen Sie jede Zahl einzeln.",
    ),
    "booking_reference": (
        "Wie ist Ihre Buchungs-Nummer? Die Nummer fängt mit B an. Zum Beispiel B-K7QX2M.",
        "Wie ist Ihre Buchungs-Nummer? Die Nummer fängt mit B an.",
    ),
    "damage_type": (
        "Was ist kaputt? Zum Beispiel eine Lampe an der Straße. Oder ein Loch in der Straße.",
    )
    * 2,
    "damage_location": ("Wo ist das? Bitte sagen Sie die Straße. Sagen Sie auch die Haus-Nummer.",)
    * 2,
    "callback_window": ("Wann sollen wir Sie anrufen? Am Vormittag oder am Nachmittag?",) * 2,
    "street": ("In welcher Straße wohnen Sie?",) * 2,
}


HINTS_EN = {
    "appointment_date": "Please name a day, for example next Tuesday or December 8th.",
    "appointment_time": "Please name a time, for example 10:30 or 2 pm.",
    "person_name": "Please give your first and last name.",
    "phone_number": "Please give a phone number with the area code, for example 0151 23456789.",
    "callback_window": "Please say: morning, afternoon or any time.",
}
HINTS_EINFACH = {
    "appointment_date": "Bitte sagen Sie einen Tag. Zum Beispiel: Dienstag.",
    "appointment_time": "Bitte sagen Sie eine Uhrzeit. Zum Beispiel: 10 Uhr.",
    "person_name": "Bitte sagen Sie Ihren Vor-Namen und Nach-Namen.",
    "phone_number": "Bitte sagen Sie Ihre Telefon-Nummer. Zum Beispiel: 0151 23456789.",
}


# After two misses: (lead, chat tail, voice tail) by register.
MISSED = {
    Register.DE: (
        "Das hat leider noch nicht gepasst.",
        "Sie können auch unten wählen, mit einem Menschen sprechen oder abbrechen.",
        "Oder sagen Sie: Mitarbeiter, oder: abbrechen.",
    ),
    Register.EN: (
        "Sorry, that did not fit yet.",
        "You can also choose below, talk to a person or cancel.",
        "Or say: staff, or: cancel.",
    ),
    Register.EINFACH: (
        "Das hat nicht gepasst.",
        "Sie können auch unten etwas wählen.",
        "Oder sagen Sie: Mitarbeiter.",
    ),
}


def hint_in(slot: str, register: Register) -> str:
    """The hint for ``slot`` in ``register`` (German where none is written)."""
    table = {Register.EN: HINTS_EN, Register.EINFACH: HINTS_EINFACH}.get(register, HINTS)
    return table.get(slot) or HINTS[slot]
