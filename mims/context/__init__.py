"""The context MIM: an NGSI-LD context broker (ETSI GS CIM 009 V1.8.1) holding the city's digital twin."""
