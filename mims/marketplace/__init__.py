"""The data marketplace MIM: a FAIR DCAT-AP catalogue of the city's data, ODRL offers, contract
negotiation per the Dataspace Protocol, access grants for the gateway, and metering."""
