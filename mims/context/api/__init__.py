"""The NGSI-LD API of the context MIM over HTTP (CIM 009 V1.8.1, clause 6): thin FastAPI routers."""
