"""The one SOAP call the local org answers: ``login`` (simple-salesforce's username, password
and security token flow). Only the elements the client reads are produced; the request is read
with two anchored patterns rather than a general XML parser, since nothing else is needed.
"""

from __future__ import annotations

import html
import re

from sfsync.sandbox.exchange import Response

_USERNAME = re.compile(rb"<(?:\w+:)?username>(.*?)</(?:\w+:)?username>", re.DOTALL)
_PASSWORD = re.compile(rb"<(?:\w+:)?password>(.*?)</(?:\w+:)?password>", re.DOTALL)
_XML = "text/xml; charset=utf-8"


def soap_credentials(body: bytes) -> tuple[str, str] | None:
    """Username and password (password plus security token, as sent) from a login envelope."""
    username = _USERNAME.search(body)
    password = _PASSWORD.search(body)
    if username is None or password is None:
        return None
    return (
        html.unescape(username.group(1).decode("utf-8", "replace")),
        html.unescape(password.group(1).decode("utf-8", "replace")),
    )


def soap_login_response(
    session_id: str, server_url: str, user_id: str, org_id: str, lifetime_seconds: int
) -> Response:
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><loginResponse><result>
<metadataServerUrl>{html.escape(server_url)}</metadataServerUrl>
<passwordExpired>false</passwordExpired><sandbox>true</sandbox>
<serverUrl>{html.escape(server_url)}</serverUrl>
<sessionId>{html.escape(session_id)}</sessionId>
<userId>{user_id}</userId>
<userInfo><organizationId>{org_id}</organizationId><sessionSecondsValid>{lifetime_seconds}</sessionSecondsValid></userInfo>
</result></loginResponse></soapenv:Body></soapenv:Envelope>"""
    return Response(200, body.encode("utf-8"), _XML)


def soap_fault(code: str, message: str) -> Response:
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>
<faultcode>sf:{code}</faultcode><faultstring>{code}: {html.escape(message)}</faultstring>
<detail><sf:LoginFault><sf:exceptionCode>{code}</sf:exceptionCode>
<sf:exceptionMessage>{html.escape(message)}</sf:exceptionMessage></sf:LoginFault></detail>
</soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
    return Response(500, body.encode("utf-8"), _XML)
