#!/usr/bin/env python3
"""A SAML 2.0 identity provider for the tests: pysaml2 builds the Response and signs it
through Debian's xmlsec1 binary, an implementation independent of the service provider
under test (samael). Nothing is kept between runs.

    idp.py keygen DIR                  writes DIR/idp.key and DIR/idp.crt (self-signed RSA)
    idp.py response --key K --cert C [options]
                                       prints the base64 SAMLResponse (POST binding)
    idp.py serve                       one process for every test (tests/api/peers.rs):
                                       prints {"ready": true}, then reads one request a
                                       line, {"id": N, "args": ["response", "--key", ...]},
                                       and answers {"id": N, "output": "..."} or
                                       {"id": N, "error": "..."}; exits when stdin closes

The `--variant` option applies the attacks the tests expect the SP to refuse, after signing
(signature wrapping, tampering).
"""

import argparse
import base64
import datetime
import re
import sys
import uuid

BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
SIG = {
    "sha256": (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
    ),
    "sha1": (
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    ),
}


def keygen(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rollcall test IdP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    with open(f"{directory}/idp.key", "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(f"{directory}/idp.crt", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def instant(offset_seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id():
    return "_" + uuid.uuid4().hex


def build(args):
    from saml2 import saml, samlp
    from saml2.config import Config
    from saml2.sigver import pre_signature_part, security_context

    conf = Config().load(
        {
            "entityid": args.issuer,
            "key_file": args.key,
            "cert_file": args.cert,
            "xmlsec_binary": args.xmlsec,
        }
    )
    sec = security_context(conf)
    with open(args.cert) as f:
        cert_b64 = "".join(l for l in f.read().splitlines() if "-----" not in l)
    sign_alg, digest_alg = SIG[args.alg]

    confirmation_data = saml.SubjectConfirmationData(
        recipient=args.recipient,
        not_on_or_after=instant(args.not_on_or_after),
        in_response_to=args.in_response_to,
    )
    attributes = []
    for pair in args.attr or []:
        name, _, value = pair.partition("=")
        attributes.append(
            saml.Attribute(
                name=name,
                name_format="urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
                attribute_value=[saml.AttributeValue(text=value)],
            )
        )
    assertion = saml.Assertion(
        id=args.assertion_id or new_id(),
        version="2.0",
        issue_instant=instant(0),
        issuer=saml.Issuer(text=args.issuer, format=saml.NAMEID_FORMAT_ENTITY),
        subject=saml.Subject(
            name_id=saml.NameID(format=args.name_id_format, text=args.name_id),
            subject_confirmation=[
                saml.SubjectConfirmation(method=BEARER, subject_confirmation_data=confirmation_data)
            ],
        ),
        conditions=saml.Conditions(
            not_before=instant(args.not_before),
            not_on_or_after=instant(args.not_on_or_after),
            audience_restriction=[
                saml.AudienceRestriction(audience=[saml.Audience(text=args.audience)])
            ],
        ),
        authn_statement=[
            saml.AuthnStatement(
                authn_instant=instant(0),
                session_index=new_id(),
                authn_context=saml.AuthnContext(
                    authn_context_class_ref=saml.AuthnContextClassRef(
                        text="urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
                    )
                ),
            )
        ],
        attribute_statement=[saml.AttributeStatement(attribute=attributes)] if attributes else None,
    )
    response = samlp.Response(
        id=new_id(),
        version="2.0",
        issue_instant=instant(0),
        destination=args.destination,
        in_response_to=args.in_response_to,
        issuer=saml.Issuer(text=args.issuer, format=saml.NAMEID_FORMAT_ENTITY),
        status=samlp.Status(status_code=samlp.StatusCode(value=SUCCESS)),
        assertion=assertion,
    )
    to_sign = []
    # The inner signature first, so that the outer one covers it.
    if args.sign in ("assertion", "both"):
        assertion.signature = pre_signature_part(
            assertion.id, cert_b64, digest_alg=digest_alg, sign_alg=sign_alg
        )
        to_sign.append((assertion, assertion.id))
    if args.sign in ("response", "both"):
        response.signature = pre_signature_part(
            response.id, cert_b64, digest_alg=digest_alg, sign_alg=sign_alg
        )
        to_sign.append((response, response.id))
    xml = str(response)
    if to_sign:
        xml = sec.multiple_signatures(xml, to_sign)
    return attack(xml, args)


ASSERTION = re.compile(r"<(?P<p>[\w.-]+:)?Assertion\b.*?</(?P=p)?Assertion>", re.S)
NAME_ID = re.compile(r"(<(?:[\w.-]+:)?NameID\b[^>]*>)([^<]*)(<)")
ATTRIBUTE_VALUE = re.compile(r"(<(?:[\w.-]+:)?AttributeValue\b[^>]*>)([^<]*)(<)")
SIGNATURE = re.compile(r"<(?P<p>[\w.-]+:)?Signature\b.*?</(?P=p)?Signature>", re.S)


def forged(signed_assertion, name_id):
    """A copy of the assertion naming someone else, with a new ID and no signature."""
    text = SIGNATURE.sub("", signed_assertion, count=1)
    text = re.sub(r'\bID="[^"]*"', f'ID="{new_id()}"', text, count=1)
    return NAME_ID.sub(lambda m: m.group(1) + name_id + m.group(3), text, count=1)


def attack(xml, args):
    if args.variant == "none":
        return xml
    if args.variant == "tamper":
        # Changes the signed NameID: the digest no longer matches.
        return NAME_ID.sub(lambda m: m.group(1) + args.forged_name_id + m.group(3), xml, count=1)
    if args.variant == "cdata":
        # Writes the NameID's and each AttributeValue's text from character
        # len(--forged-name-id) on as a CDATA section: c14n writes CDATA as plain text, so
        # the signature still verifies and the value is unchanged.
        k = len(args.forged_name_id)

        def wrap(m):
            head, tail = m.group(2)[:k], m.group(2)[k:]
            cdata = f"<![CDATA[{tail}]]>" if tail else ""
            return m.group(1) + head + cdata + m.group(3)

        return ATTRIBUTE_VALUE.sub(wrap, NAME_ID.sub(wrap, xml, count=1))
    if args.variant == "comment":
        # Splits the signed NameID with a comment after len(--forged-name-id) characters:
        # exclusive c14n drops comments, so the signature still verifies (CVE-2017-11427).
        k = len(args.forged_name_id)
        return NAME_ID.sub(
            lambda m: m.group(1) + m.group(2)[:k] + "<!---->" + m.group(2)[k:] + m.group(3),
            xml,
            count=1,
        )
    match = ASSERTION.search(xml)
    if not match:
        sys.exit("no assertion to wrap")
    signed = match.group(0)
    fake = forged(signed, args.forged_name_id)
    before, after = xml[: match.start()], xml[match.end() :]
    if args.variant == "xsw-before":
        return before + fake + signed + after
    if args.variant == "xsw-after":
        return before + signed + fake + after
    if args.variant == "xsw-extensions":
        # The signed assertion hides in <samlp:Extensions> (allowed anywhere by the schema);
        # the forged one takes its place after <Status>.
        prefix = re.search(r"<([\w.-]+:)?Response\b", xml).group(1) or ""
        without = before + fake + after
        issuer_end = re.search(r"</(?:[\w.-]+:)?Issuer>", without).end()
        return (
            without[:issuer_end]
            + f"<{prefix}Extensions>{signed}</{prefix}Extensions>"
            + without[issuer_end:]
        )
    sys.exit(f"unknown variant {args.variant}")


def parser():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("directory")
    r = sub.add_parser("response")
    r.add_argument("--key", required=True)
    r.add_argument("--cert", required=True)
    r.add_argument("--xmlsec", default="/usr/bin/xmlsec1")
    r.add_argument("--issuer", required=True)
    r.add_argument("--audience", required=True)
    r.add_argument("--recipient", required=True)
    r.add_argument("--destination", required=True)
    r.add_argument("--in-response-to")
    r.add_argument("--assertion-id")
    r.add_argument("--name-id", required=True)
    r.add_argument(
        "--name-id-format", default="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    )
    r.add_argument("--attr", action="append", help="NAME=VALUE, repeatable")
    r.add_argument("--not-before", type=int, default=-60, help="seconds from now")
    r.add_argument("--not-on-or-after", type=int, default=300, help="seconds from now")
    r.add_argument("--sign", choices=["response", "assertion", "both", "none"], default="response")
    r.add_argument("--alg", choices=sorted(SIG), default="sha256")
    r.add_argument(
        "--variant",
        choices=[
            "none",
            "tamper",
            "comment",
            "cdata",
            "xsw-before",
            "xsw-after",
            "xsw-extensions",
        ],
        default="none",
    )
    r.add_argument(
        "--forged-name-id",
        default="mallory@example.com",
        help="what tamper and XSW put in; where comment and cdata cut (its length)",
    )
    sub.add_parser("serve")
    return parser


def run(args):
    """What the command prints: nothing for keygen, the base64 Response for response."""
    if args.command == "keygen":
        keygen(args.directory)
        return ""
    xml = build(args)
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")


def serve():
    import json
    import traceback

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            print(json.dumps({"protocol_error": f"not JSON: {line!r}"}), flush=True)
            continue
        answer = {"id": request.get("id")}
        try:
            answer["output"] = run(parser().parse_args(request["args"]))
        except SystemExit as e:
            # argparse and the attacks report a refused request by exiting.
            answer["error"] = f"exit {e.code}"
        except Exception:
            answer["error"] = traceback.format_exc()
        print(json.dumps(answer), flush=True)


def main():
    args = parser().parse_args()
    if args.command == "serve":
        serve()
    else:
        out = run(args)
        if out:
            sys.stdout.write(out + "\n")


if __name__ == "__main__":
    main()
