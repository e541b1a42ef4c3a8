"""Minimal, invented EN 16931 e-invoices (CII and UBL) for tests; companies and figures are made up.

Each builder returns UTF-8 XML bytes. An optional element is left out entirely when its
argument is ``None``, so tests can check that missing data stays missing.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

CII_NS = (
    'xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" '
    'xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" '
    'xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"'
)
UBL_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
UBL_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

# (name, quantity, net unit price, net line amount)
DEFAULT_LINES = [("Brass hinge, 40 mm", "12", "2.50", "30.00"), ("Oak shelf board", "3", "30.00", "90.00")]


def _opt(template: str, value: str | None) -> str:
    return template.format(escape(value)) if value is not None else ""


def cii_invoice(
    number: str | None = "WB-2024-0042",
    type_code: str = "380",
    issue_date: str = "20240305",  # format 102: YYYYMMDD
    due_date: str | None = "20240404",
    currency: str = "EUR",
    seller: str = "Werkbank Holzbau GmbH",
    seller_vat: str | None = "DE136695976",
    buyer: str | None = "Kranich Möbelhaus KG",
    po_number: str | None = "PO-7781",
    iban: str | None = "DE02120300000000202051",
    subtotal: str | None = "120.00",
    tax: str | None = "22.80",
    total: str | None = "142.80",
    due_payable: str | None = None,
    lines: list[tuple[str, str, str, str]] | None = None,
    prepaid: str | None = None,
) -> bytes:
    """A Factur-X / ZUGFeRD 2 style CII invoice; ``type_code`` 381 makes it a credit note."""
    items = "".join(
        f"""
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>{i}</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct><ram:Name>{escape(name)}</ram:Name></ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>{price}</ram:ChargeAmount></ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">{qty}</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>{amount}</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>"""
        for i, (name, qty, price, amount) in enumerate(DEFAULT_LINES if lines is None else lines, start=1)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- invented test invoice -->
<rsm:CrossIndustryInvoice {CII_NS}>
  <rsm:ExchangedDocumentContext>
    <ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    {_opt("<ram:ID>{}</ram:ID>", number)}
    <ram:TypeCode>{type_code}</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">{issue_date}</udt:DateTimeString></ram:IssueDateTime>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>{items}
    <ram:ApplicableHeaderTradeAgreement>
      <ram:SellerTradeParty>
        <ram:Name>{escape(seller)}</ram:Name>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>28195</ram:PostcodeCode>
          <ram:LineOne>Hobelweg 7</ram:LineOne>
          <ram:CityName>Bremen</ram:CityName>
          <ram:CountryID>DE</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:SpecifiedTaxRegistration><ram:ID schemeID="FC">60/123/45678</ram:ID></ram:SpecifiedTaxRegistration>
        {_opt('<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{}</ram:ID></ram:SpecifiedTaxRegistration>', seller_vat)}
      </ram:SellerTradeParty>
      <ram:BuyerTradeParty>{_opt("<ram:Name>{}</ram:Name>", buyer)}</ram:BuyerTradeParty>
      {_opt("<ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>{}</ram:IssuerAssignedID></ram:BuyerOrderReferencedDocument>", po_number)}
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeDelivery/>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>{currency}</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementPaymentMeans>
        <ram:TypeCode>58</ram:TypeCode>
        {_opt("<ram:PayeePartyCreditorFinancialAccount><ram:IBANID>{}</ram:IBANID></ram:PayeePartyCreditorFinancialAccount>", iban)}
      </ram:SpecifiedTradeSettlementPaymentMeans>
      <ram:SpecifiedTradePaymentTerms>
        <ram:Description>Payable within 30 days</ram:Description>
        {_opt('<ram:DueDateDateTime><udt:DateTimeString format="102">{}</udt:DateTimeString></ram:DueDateDateTime>', due_date)}
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        {_opt("<ram:TaxBasisTotalAmount>{}</ram:TaxBasisTotalAmount>", subtotal)}
        {_opt(f'<ram:TaxTotalAmount currencyID="{currency}">{{}}</ram:TaxTotalAmount>', tax)}
        {_opt("<ram:GrandTotalAmount>{}</ram:GrandTotalAmount>", total)}
        {_opt("<ram:TotalPrepaidAmount>{}</ram:TotalPrepaidAmount>", prepaid)}
        {_opt("<ram:DuePayableAmount>{}</ram:DuePayableAmount>", due_payable or total)}
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
""".encode()


def ubl_invoice(
    number: str | None = "NS-88031",
    credit_note: bool = False,
    type_code: str | None = None,
    issue_date: str = "2024-05-17",
    due_date: str | None = "2024-06-16",
    currency: str = "NOK",
    seller: str = "Nordsjø Fiskeutstyr AS",
    seller_vat: str | None = "NO987654321MVA",
    buyer: str | None = "Havbris Marina AB",
    po_number: str | None = "HM-4410",
    iban: str | None = "NO9386011117947",
    subtotal: str | None = "1000.00",
    tax: str | None = "250.00",
    total: str | None = "1250.00",
    lines: list[tuple[str, str, str, str]] | None = None,
) -> bytes:
    """A Peppol BIS 3 style UBL 2.1 ``Invoice``, or a ``CreditNote`` with ``credit_note=True``.

    A credit note's due date sits in ``PaymentMeans/PaymentDueDate`` (UBL CreditNote has no
    ``DueDate``), which the reader must find as well.
    """
    root = "CreditNote" if credit_note else "Invoice"
    code = type_code or ("381" if credit_note else "380")
    quantity = "CreditedQuantity" if credit_note else "InvoicedQuantity"
    items = "".join(
        f"""
  <cac:{root}Line>
    <cbc:ID>{i}</cbc:ID>
    <cbc:{quantity} unitCode="C62">{qty}</cbc:{quantity}>
    <cbc:LineExtensionAmount currencyID="{currency}">{amount}</cbc:LineExtensionAmount>
    <cac:Item><cbc:Name>{escape(name)}</cbc:Name></cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="{currency}">{price}</cbc:PriceAmount></cac:Price>
  </cac:{root}Line>"""
        for i, (name, qty, price, amount) in enumerate(
            [("Trawl net, 20 m", "2", "400.00", "800.00"), ("Buoy, orange", "10", "20.00", "200.00")]
            if lines is None
            else lines,
            start=1,
        )
    )
    due_root = _opt("<cbc:DueDate>{}</cbc:DueDate>", due_date) if not credit_note else ""
    due_means = _opt("<cbc:PaymentDueDate>{}</cbc:PaymentDueDate>", due_date) if credit_note else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2" xmlns:cac="{UBL_CAC}" xmlns:cbc="{UBL_CBC}">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
  {_opt("<cbc:ID>{}</cbc:ID>", number)}
  <cbc:IssueDate>{issue_date}</cbc:IssueDate>
  {due_root}
  <cbc:{root}TypeCode>{code}</cbc:{root}TypeCode>
  <cbc:DocumentCurrencyCode>{currency}</cbc:DocumentCurrencyCode>
  {_opt("<cac:OrderReference><cbc:ID>{}</cbc:ID></cac:OrderReference>", po_number)}
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyName><cbc:Name>Nordsjø Fiske</cbc:Name></cac:PartyName>
    <cac:PostalAddress>
      <cbc:StreetName>Bryggen 12</cbc:StreetName>
      <cbc:CityName>Bergen</cbc:CityName>
      <cbc:PostalZone>5003</cbc:PostalZone>
      <cac:Country><cbc:IdentificationCode>NO</cbc:IdentificationCode></cac:Country>
    </cac:PostalAddress>
    {_opt("<cac:PartyTaxScheme><cbc:CompanyID>{}</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>", seller_vat)}
    <cac:PartyLegalEntity><cbc:RegistrationName>{escape(seller)}</cbc:RegistrationName></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    {_opt("<cac:PartyLegalEntity><cbc:RegistrationName>{}</cbc:RegistrationName></cac:PartyLegalEntity>", buyer)}
  </cac:Party></cac:AccountingCustomerParty>
  <cac:PaymentMeans>
    <cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>
    {due_means}
    {_opt("<cac:PayeeFinancialAccount><cbc:ID>{}</cbc:ID></cac:PayeeFinancialAccount>", iban)}
  </cac:PaymentMeans>
  <cac:TaxTotal>
    {_opt(f'<cbc:TaxAmount currencyID="{currency}">{{}}</cbc:TaxAmount>', tax)}
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="{currency}">{subtotal or "0.00"}</cbc:LineExtensionAmount>
    {_opt(f'<cbc:TaxExclusiveAmount currencyID="{currency}">{{}}</cbc:TaxExclusiveAmount>', subtotal)}
    {_opt(f'<cbc:TaxInclusiveAmount currencyID="{currency}">{{}}</cbc:TaxInclusiveAmount>', total)}
    {_opt(f'<cbc:PayableAmount currencyID="{currency}">{{}}</cbc:PayableAmount>', total)}
  </cac:LegalMonetaryTotal>{items}
</{root}>
""".encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rsm:CrossIndustryInvoice [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
  xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100">
  <rsm:ExchangedDocument><ram:ID>&lol9;</ram:ID></rsm:ExchangedDocument>
</rsm:CrossIndustryInvoice>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"><cbc:ID>&secret;</cbc:ID></Invoice>
"""
