//! SAML 2.0 service provider per organization (samael): metadata, ACS with the POST binding, signature and condition checks, assertion replay cache.
