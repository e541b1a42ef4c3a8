"""The field labels the rules extractor looks for, in English, German, French, Dutch, Italian and Spanish.

Each field has labels in priority order: a specific label ("Invoice date") is tried before a
generic one ("Date"). Labels only ever match as whole words, so free text in a document (for
example an instruction aimed at an AI reader) is not a label and cannot steer the result.
"""

from __future__ import annotations

import re


def _labels(*alternatives: str) -> list[re.Pattern[str]]:
    """Compile each alternative as a case-insensitive whole-word label."""
    # The end needs a word boundary only when the label ends in a letter ("No.123", "#123" are fine).
    return [re.compile(rf"(?<![\w])(?:{alt})(?:(?<![\w])|(?![\w]))", re.IGNORECASE) for alt in alternatives]


_NO = r"(?:no\.?|nr\.?|n[°º]\.?|num(?:ber|éro|ero)?\.?|#|nummer|id)"
# A word between a title and its number label, and the words that make the number someone else's.
_WORD = r"[^\W\d_]+\.?"
_NOT_OURS = (
    r"(?:kunden?|customer|client|order|bestell\w*|auftrag\w*|commande|klant|tax|steuer\w*|ust|vat|tva|btw|date|datum|page|seite"
    r"|gem[äa](?:ß|ss)|according|selon|lieferschein\w*|delivery)\b"
)

INVOICE_NUMBER = _labels(
    rf"invoice\s*{_NO}|inv\.?\s*{_NO}|tax\s*invoice\s*{_NO}",
    rf"rechnungs?\s*-?\s*(?:{_NO})|rechnungsnummer|belegnummer|beleg-?nr\.?|\w*rechnung\s*(?:\(\d+\)\s*)?{_NO}",
    rf"facture\s*{_NO}|n[°º]\s*(?:de\s*)?facture|num[ée]ro\s*de\s*facture",
    rf"factuur\s*-?\s*{_NO}|factuurnummer",
    rf"fattura\s*(?:{_NO}|n\.)|numero\s*(?:della\s*)?fattura|n\.\s*fattura|n[°º.]?\s*documento",
    rf"factura\s*(?:{_NO}|n\.)|n[úu]mero\s*de\s*factura|n[°º]\s*(?:de\s*)?factura",
    rf"credit\s*note\s*{_NO}|gutschrifts?\s*-?\s*{_NO}|avoir\s*{_NO}",
    # A document title, a type code or remark in brackets, then the number label:
    # "Gutschrift (Selbst ausgestellte Rechnung) (389) Nr. 4711", "Invoice (copy) No. 12".
    rf"(?:\w*rechnung|gutschrift|invoice|credit\s*note|facture|avoir|factuur|fattura|factura)(?:\s*\([^()]{{1,40}}\))+\s*{_NO}",
    # The title with a few words naming who issues it: "Rechnung des Versicherers Nr. 01.234.567.8-2018-1".
    rf"(?:\w*rechnung|gutschrift|invoice|facture|avoir|factuur|fattura|factura)(?:\s+(?!{_NOT_OURS}){_WORD}){{1,3}}(?:\s*\([^()]{{1,40}}\))*\s*{_NO}",
    rf"(?:bill|receipt|document|doc\.?)\s*{_NO}",
    rf"booking\s*(?:id|{_NO}|ref(?:erence)?)|reservation\s*(?:id|{_NO})|confirmation\s*{_NO}|buchungs(?:nummer|\s*-?\s*nr\.?)",
)
# The bare title word names the invoice-number column of a row of column headings
# ("Klant  Order  Factuurdatum  Factuur"); it counts only where other labels share its line.
INVOICE_NUMBER_COLUMN = _labels(
    r"(?:invoice|rechnung|facture|factuur|faktura|fattura|factura)(?!\s*(?:date|datum|d[’']?[ée]mission|du\b|vom\b|to\b|an\b|[àa]\b|del\b|de\b))"
)
INVOICE_NUMBER_TITLE = re.compile(
    r"^\s*(?:tax\s+)?(?:invoice|rechnung|facture|factuur|gutschrift|credit\s+note|avoir|creditnota|fattura|factura)\s*[:#]?\s*"
    r"(?P<value>[A-Z0-9][A-Z0-9/._-]*\d[A-Z0-9/._-]*)\s*$",
    re.IGNORECASE,
)

INVOICE_DATE = _labels(
    r"invoice\s*date|date\s*of\s*(?:issue|invoice)|issue\s*date|date\s*issued|billing\s*date|receipt\s*date",
    r"rechnungsdatum|belegdatum|ausstellungsdatum|rechnungs?-?\s*datum",
    r"date\s*de\s*(?:la\s*)?factur(?:e|ation)|date\s*d[’']?[ée]mission|factuurdatum|factuur\s*datum"
    r"|facture\s*n[°º]?\s*\S+\s+du|\w*rechnung\s*(?:\(\d+\)\s*)?(?:nr\.?\s*)?\S+\s+vom"
    r"|data\s*(?:della\s*)?(?:fattura|documento|emissione)|fecha\s*(?:de\s*(?:la\s*)?)?(?:factura|emisi[óo]n|expedici[óo]n)"
    # The title, its number and "vom"/"du"/"dated": "Rechnung des Versicherers (575) Nr. 01.234 vom".
    rf"|(?:\w*rechnung|gutschrift|invoice|facture|avoir|factuur|fattura|factura)(?:\s+(?!{_NOT_OURS})\S+){{0,5}}?\s+\S*\d\S*\s+(?:vom|du|dated|del)",
    r"(?<!due )(?<!order )(?<!delivery )(?<!payment )(?<!shipping )(?<!ship )(?<!supply )"
    r"(?<!expiry )(?<!start )(?<!end )(?<!print )"
    r"(?:date|datum|dated|data|fecha)(?!\s*(?:of\s*)?(?:due|supply|delivery|d[’']?[ée]ch[ée]ance|limite|de\s*livraison|de\s*commande"
    r"|(?:di\s*)?scadenza|(?:de\s*)?vencimiento|(?:di\s*)?consegna|(?:de\s*)?entrega))",
)

DUE_DATE = _labels(
    r"due\s*date|date\s*due|payment\s*due(?:\s*date)?|due\s*(?:by|on)|pay(?:able)?\s*by",
    r"f[äa]llig(?:keit(?:sdatum)?|\s*am|\s*bis)?|zahlbar\s*bis|zahlungsziel",
    r"date\s*(?:d[’']|de\s*l[’'])?\s*[ée]ch[ée]ance|[ée]ch[ée]ance|date\s*limite\s*de\s*paiement",
    r"vervaldatum|uiterste\s*betaaldatum|te\s*betalen\s*v[óo]{1,2}r",
    r"(?:data\s*(?:di\s*)?)?scadenza(?:\s*pagamento)?|(?:fecha\s*(?:de\s*)?)?vencimiento",
    r"(?:please\s*)?(?:remit|pay)(?:\s*(?:the\s*)?(?:amount|invoice|balance))?\s*(?:until|before|no\s*later\s*than)"
    r"|(?:bitte\s*)?(?:überweisen|zahlen|bezahlen)\s*sie(?:\s*den\s*(?:betrag|rechnungsbetrag))?\s*bis(?:\s*zum)?"
    r"|(?:à\s*)?r[ée]gler\s*avant\s*le|[àa]\s*payer\s*avant\s*le|betalen\s*(?:v[óo]{1,2}r|uiterlijk)",
)

TOTAL_SPECIFIC = _labels(
    r"grand\s*total|total\s*amount(?:\s*due)?|invoice\s*total|total\s*for\s*this\s*invoice|factuur\s*totaal"
    r"|totaal\s*factuur|total\s*facture|rechnungssumme|total\s*(?:\(?\s*incl|including|inkl)\.?[^\d]{0,20}"
    r"|total\s*ttc|montant\s*ttc",
    r"gesamtbetrag(?!\s*der\s*(?:zu|ab)schl)|rechnungsbetrag|bruttosumme|endbetrag|bruttobetrag|gesamtsumme",
    r"montant\s*total|totaal\s*(?:incl\.?|bedrag)|totaalbedrag",
    r"totale\s*(?:documento|fattura)|importo\s*totale|total\s*factura|importe\s*total|total\s*importe",
)
# What is left to pay: the gross total less what was paid before (a deposit, a prepayment).
AMOUNT_DUE = _labels(
    r"amount\s*due|amt\.?\s*due|balance\s*due|total\s*due|amount\s*to\s*pay|total\s*payable|amount\s*payable|total\s*to\s*pay"
    r"|do\s*zap[łl]aty",
    r"zahlbetrag|zahlungsbetrag|zu\s*zahlen(?:der\s*betrag)?|offener\s*betrag",
    r"net\s*[àa]\s*payer|solde\s*[àa]\s*payer|reste\s*[àa]\s*payer|te\s*betalen|openstaand\s*bedrag",
    r"netto\s*a\s*pagare|totale\s*(?:da|a)\s*pagare|importe\s*a\s*pagar|total\s*a\s*pagar",
)
# Paid before this invoice and taken off what is due.
PREPAID = _labels(
    r"prepaid(?:\s*amount)?|already\s*paid|paid\s*to\s*date|less\s*(?:deposit|advance)|deposit\s*paid|advance\s*payments?\s*received",
    r"erhaltene\s*anzahlungen?|geleistete\s*anzahlungen?|bereits\s*(?:gezahlt|bezahlt)|anzahlungen?",
    r"acomptes?\s*(?:vers[ée]s?|re[çc]us?)|d[ée]j[àa]\s*(?:r[ée]gl[ée]|pay[ée])|vooruitbetaling|reeds\s*betaald",
    r"acconto|anticipo\s*ricevuto|ya\s*pagado|anticipo",
)
TOTAL_GENERIC = _labels(
    r"(?<!sub)(?<!sub-)(?<!sub )(?<!accepted )(?<!tendered )total(?!\s*(?:qty|quantity|items?|units|pieces|pcs|weight|discount|savings"
    r"|paid|tax|vat|gst|net|excl|ex\b|ht\b|hors|before|exkl|netto|mwst|tva|btw|iva|imponibile))|summe|totaal|montant|razem|totale(?!\s*(?:iva|imponibile))"
    # "DUE   19.20" on a till receipt: the amount due, where no word says it is a date
    r"|due(?!\s*(?:date|on|by|in|to|for|from|at|dat|datum))",
)
# Checked on the label and a few characters around it, not on the whole line.
TOTAL_EXCLUDE = re.compile(
    r"sub\s*-?\s*total|\bnet(?:to)?\b|excl|exkl|before\s*tax|\bht\b|hors\s*tax|zwischensumme|\bohne\b|\bsans\b"
    r"|\b(?:vat|tax|mwst|tva|btw|gst)\s*(?:total|totaal|summe|amount)"
    r"|\(\s*total"  # "(Total included GST @ 6%: 1.09)": a remark on the tax in the total
    r"|\bin\s+total"  # "GST included in total 0.28": the tax in it
    r"|total\s*includ\w*\s*[\d.,%\s]*(?:vat|tax|mwst|tva|btw|gst)",  # "TOTAL INCLUDES 6% GST 0.63": the same
    re.IGNORECASE,
)

SUBTOTAL = _labels(
    r"(?:total\s*|totaal\s*|amount\s*)?(?:excl(?:\.|usief|uding)?|exkl\.?|zzgl\.?|hors)\s*(?:btw|vat|tax|mwst|ust|tva|taxes)",
    r"sub\s*-?\s*total|net\s*(?:amount|total|value)|total\s*(?:excl\.?|excluding|before\s*tax|net|ht|hors\s*taxes?)"
    r"|amount\s*(?:excl\.?|before\s*tax)|taxable\s*amount",
    r"\w*summe\s*ohne\s*(?:ust|mwst)\.?|nettosumme|zwischensumme|nettobetrag|netto-?\s*summe|summe\s*netto|gesamt\s*netto|netto|rechnungsbetrag\s*netto",
    r"total\s*ht|montant\s*ht|sous-?\s*total|subtotaal|totaal\s*excl\.?",
    r"(?:totale\s*)?imponibile|base\s*imponible|subtotale",
)

TAX_TOTAL = _labels(
    r"total\s*(?:tax(?:es)?|vat|gst|mwst|tva|btw)|tax\s*total|vat\s*total|tax\s*amount|vat\s*amount|montant\s*tva"
    r"|steuerbetrag|(?:ust|mwst)\.?\s*-?\s*betrag|btw\s*-?\s*bedrag|total\s*tva|totale\s*iva|(?:importe|cuota)\s*(?:del\s*)?iva|imposta",
    r"sales\s*tax|vat|tax|gst|mwst|ust|umsatzsteuer|mehrwertsteuer|tva|btw|iva",
)
TAX_LINE_EXCLUDE = re.compile(
    r"\b(?:incl|inkl|including|excl|exkl|excluding|ttc|ht|zzgl\s*ust-?id)\b|reg(?:istration)?\b|\bid\b|ident"
    r"|\bno\b|\bnr\b|nummer|number|intra|\btax\s*code|before",
    re.IGNORECASE,
)

TAX_ID = _labels(
    r"vat\s*(?:reg(?:istration)?\.?\s*)?(?:no\.?|number|nr\.?|id|#)|vat\s*reg(?:istration)?\.?|vat\s*id",
    r"ust\.?\s*-?\s*id\.?(?:\s*-?\s*nr)?\.?|umsatzsteuer\s*-?\s*id(?:entifikationsnummer|\.?\s*-?\s*nr)?\.?",
    r"(?:n[°º]|no\.?|num[ée]ro)\s*(?:de\s*)?tva(?:\s*intra(?:communautaire)?)?|tva\s*intra(?:communautaire)?\.?|tva(?=\s*:)",
    r"btw\s*-?\s*(?:nummer|nr\.?|id)|btw",
    r"partita\s*iva|p\.?\s*iva|(?:n[°º.]?\s*)?(?:cif|nif)(?=\s*[:.]?\s*[A-Z0-9])",
    r"tax\s*(?:id|no\.?|number|reg(?:istration)?\.?(?:\s*no\.?)?)|gstin|gst\s*(?:no\.?|reg(?:istration)?(?:\s*no\.?)?)"
    r"|abn|tin|nip",
    r"steuer\s*-?\s*nr\.?|steuernummer",  # a national tax number: only when no VAT id is given
)
EU_VAT_ID = re.compile(
    r"(?<![A-Z0-9])(?:ATU\d{8}|BE[01]\d{9}|DE\d{9}|DK\d{8}|ES[A-Z0-9]\d{7}[A-Z0-9]|FR[A-Z0-9]{2}\d{9}"
    r"|GB\d{9}(?:\d{3})?|IT\d{11}|NL\d{9}B\d{2}|PL\d{10}|SE\d{12}|CZ\d{8,10}|LU\d{8}|IE\d{7}[A-Z]{1,2})(?![A-Z0-9])"
)

# Where the vendor's account is printed; the value need not be a valid IBAN (a domestic account, or a
# mistyped one), which the IBAN check then reports instead of the account going unread.
BANK_ACCOUNT = _labels(
    r"iban(?:\s*(?:no\.?|nr\.?|number|code))?",
    r"bank\s*account(?:\s*(?:no\.?|nr\.?|number|#))?",
    r"konto(?:nummer|\s*-?\s*nr\.?)|rekening(?:nummer|\s*-?\s*nr\.?)?|compte\s*bancaire|rib",
)

PO_NUMBER = _labels(
    rf"p\.?\s?o\.?\s*{_NO}|p\.?o\.?(?=\s*[:#])|purchase\s*order(?:\s*{_NO})?",
    rf"bestell\s*-?\s*(?:nummer|{_NO})|ihre\s*bestellung|bon\s*de\s*commande(?:\s*{_NO})?|inkooporder\s*(?:{_NO})?",
)

CUSTOMER = _labels(
    r"bill(?:ed)?\s*to|invoice\s*to|invoiced\s*to|sold\s*to|customer(?:\s*name)?|client|buyer",
    r"cessionario(?:\s*/\s*committente)?|committente|cliente|destinatario|comprador|facturar\s*a",
    r"rechnungsempf[äa]nger|rechnungsadresse|kunde|empf[äa]nger",
    r"factur[ée]\s*[àa]|adresse\s*de\s*facturation|klant|factuuradres|acheteur|destinataire",
    r"k[äa]ufer|leistungsempf[äa]nger|auftraggeber|koper|afnemer",
    # Last resort: the party goods go to is, on most invoices, the buyer.
    r"ship(?:ped)?\s*to|deliver(?:ed|y)\s*to|delivery\s*address|adresse\s*de\s*livraison|lieferadresse|lieferanschrift"
    r"|afleveradres",
)
# A heading over a block that describes one party ("Verkäufer", "Seller", "Bill to", "Käufer/Leistungsempfänger").
PARTY_HEADING_END = re.compile(r"^\s*(?:[/:]\s*[^\W\d_][\w\s.-]{0,30})?:?\s*$")
NAME_KEY = re.compile(
    r"^\W{0,3}(?:name|firma|company(?:\s*name)?|raison\s*sociale|naam|nom|bedrijfsnaam|denominazione|ragione\s*sociale|raz[óo]n\s*social|nombre)\s*:\s*(?P<value>\S.*)$",
    re.IGNORECASE,
)
CUSTOMER_NOT_NAME = re.compile(rf"^\s*[:\-]?\s*(?:{_NO}|ref|code|account|vat|tax)(?![\w])", re.IGNORECASE)

VENDOR = _labels(
    r"from|seller|vendor|supplier|lieferant|verk[äa]ufer|fournisseur|leverancier|sold\s*by|cedente|fornitore|proveedor|emisor"
)
# As a label the word opens its line and is followed by a colon or nothing ("From: ...", "Seller"),
# so "... from the date of purchase" in a receipt's small print is not one.
VENDOR_LABEL = re.compile(
    r"^\W{0,3}(?:from|seller|vendor|supplier|lieferant|verk[äa]ufer|fournisseur|leverancier|sold\s*by|vendeur"
    r"|rechnungssteller|leistungserbringer|[ée]metteur|cedente(?:\s*/\s*prestatore)?|prestatore|fornitore|emittente"
    r"|proveedor|emisor|vendedor)"
    r"(?=\s*:|\s*$|\s*/\s*[^\W\d_]+\s*$)",
    re.IGNORECASE,
)
COMPANY_SUFFIX = re.compile(
    r"(?<![\w])(?:gmbh|ag|kg|ug|ltd|limited|llc|l\.l\.c\.|inc|corp|corporation|plc|sdn\.?\s*bhd|bhd|s\.?a\.?s?|sarl"
    r"|s\.?a\.?r\.?l|b\.?v\.?|n\.?v\.?|oy|ab|a/s|s\.?p\.?a|s\.?r\.?l|pvt|private\s*limited|co\.|a\.\s?g)(?![\w])\.?",
    re.IGNORECASE,
)
# A salutation on a line of its own opens a person's name in an address block ("Herrn" / "Max Mustermann").
SALUTATION = re.compile(
    r"(?:herrn?|frau|firma|mr\.?|mrs\.?|ms\.?|m\.|mme\.?|monsieur|madame|messrs\.?|dhr\.?|mevr\.?|sig\.?(?:ra)?|sr\.?|sra\.?)",
    re.IGNORECASE,
)
TITLE_WORDS = re.compile(
    r"^\s*(?:tax\s+)?(?:invoice|rechnung|facture|factuur|receipt|quittung|re[çc]u|credit\s*note|gutschrift|avoir"
    r"|page|seite|original|copy|kopie|duplicate|statement)\b",
    re.IGNORECASE,
)

# "avoir" is also the French verb "to have": only a title line or "Avoir n°" counts.
CREDIT_NOTE = re.compile(
    r"\b(?:credit\s*note|credit\s*memo|gutschrift|creditnota|rechnungskorrektur)\b|^\s*avoir\b|\bavoir\s*n[°º]",
    re.IGNORECASE | re.MULTILINE,
)
RECEIPT = re.compile(
    r"\b(?:receipt|quittung|kassenbon|kassenbeleg|re[çc]u|ticket\s*de\s*caisse|kassabon)\b", re.IGNORECASE
)
INVOICE_WORD = re.compile(r"\b(?:invoice|rechnung|facture|factuur)\b", re.IGNORECASE)
LANGUAGE_DAYFIRST = re.compile(
    r"\b(?:rechnung|datum|fällig|mwst|gesamtbetrag|facture|tva|échéance|factuur|btw|vervaldatum|fattura|scadenza|factura|vencimiento|iva)\b",
    re.IGNORECASE,
)
