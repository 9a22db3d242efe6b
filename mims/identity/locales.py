"""The words of the sign-in and consent page, in Dutch and English.

The language is chosen as on every page of the platform (``mims.kit.languages``): the request's
``ui_locales``, the language remembered in a cookie, the browser's ``Accept-Language``; Dutch otherwise.
"""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Inloggen bij {client}",
        "heading": "Inloggen en toestemming geven",
        "asks": "{client} vraagt om:",
        "asks_nothing": "{client} vraagt alleen om te weten wie u bent.",
        "signed_in": "U bent ingelogd als {name} ({username}).",
        "other_user": "Inloggen als iemand anders",
        "scope_note": "U krijgt alleen wat uw rol toestaat.",
        "username": "Gebruikersnaam",
        "password": "Wachtwoord",
        "allow": "Toestaan",
        "deny": "Weigeren",
        "switch": "English",
        "switch_lang": "en",
        "problem": "Er is een probleem",
        "bad_credentials": "De gebruikersnaam of het wachtwoord is onjuist.",
        "missing_credentials": "Vul uw gebruikersnaam en wachtwoord in.",
        "too_many": "Te veel mislukte inlogpogingen. Probeer het over {seconds} seconden opnieuw.",
        "expired": "Dit formulier is verlopen of kon niet worden gecontroleerd. Ga terug naar de toepassing en probeer het opnieuw.",
        "error_title": "Inloggen niet mogelijk",
        "error_heading": "Dit inlogverzoek kan niet worden verwerkt",
        "error_advice": "Ga terug naar de toepassing en probeer het opnieuw, of neem contact op met de beheerder ervan.",
        "error_detail": "Technische details",
    },
    "en": {
        "title": "Sign in to {client}",
        "heading": "Sign in and give consent",
        "asks": "{client} asks for:",
        "asks_nothing": "{client} only asks to know who you are.",
        "signed_in": "You are signed in as {name} ({username}).",
        "other_user": "Sign in as someone else",
        "scope_note": "You only get what your role allows.",
        "username": "Username",
        "password": "Password",
        "allow": "Allow",
        "deny": "Deny",
        "switch": "Nederlands",
        "switch_lang": "nl",
        "problem": "There is a problem",
        "bad_credentials": "The username or password is not correct.",
        "missing_credentials": "Enter your username and password.",
        "too_many": "Too many failed sign-in attempts. Try again in {seconds} seconds.",
        "expired": "This form has expired or could not be verified. Go back to the application and try again.",
        "error_title": "Cannot sign in",
        "error_heading": "This sign-in request cannot be handled",
        "error_advice": "Go back to the application and try again, or contact its administrator.",
        "error_detail": "Technical details",
    },
}

#: What each scope allows, in words; a configured scope missing here is shown as itself.
SCOPE_WORDS: dict[str, dict[str, str]] = {
    "nl": {
        "openid": "Weten wie u bent (uw gebruikers-id)",
        "profile": "Uw naam, gebruikersnaam en rollen",
        "email": "Uw e-mailadres",
        "context:read": "Gegevens van de stad lezen (digitale tweeling)",
        "context:write": "Gegevens van de stad wijzigen (digitale tweeling)",
        "marketplace:publish": "Datasets publiceren op de datamarktplaats",
        "marketplace:consume": "Datasets afnemen van de datamarktplaats",
        "permit:submit": "Bouwplannen indienen voor de vergunningcheck",
        "permit:review": "Vergunningaanvragen beoordelen",
        "permit:zoning": "Bestemmingsplannen laden in de vergunningcheck",
        "admin": "Het platform beheren",
    },
    "en": {
        "openid": "Know who you are (your user id)",
        "profile": "Your name, username and roles",
        "email": "Your email address",
        "context:read": "Read the city's data (digital twin)",
        "context:write": "Change the city's data (digital twin)",
        "marketplace:publish": "Publish datasets in the data marketplace",
        "marketplace:consume": "Use datasets from the data marketplace",
        "permit:submit": "Submit building plans to the permit check",
        "permit:review": "Review permit applications",
        "permit:zoning": "Load zoning plans into the permit check",
        "admin": "Administer the platform",
    },
}


def scope_words(scopes: list[str], language: str) -> list[str]:
    words = SCOPE_WORDS[language]
    return [words.get(scope, scope) for scope in scopes]
