"""Readers of the open geo formats the platform takes in, into PPI documents and NGSI-LD entities:
CityJSON buildings (``cityjson``) into building plans, IMRO2012 GML zoning plans (``imro``), BRK
cadastral parcels and both kinds of plan as digital-twin entities (``twin_entities``), and the
RD New (EPSG:28992) coordinate handling they share (``plan_input``).

Shared by the permit check, which reads plans with them, and the demo seeder, which loads a
city's open data with them."""
