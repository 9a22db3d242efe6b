"""The living demo: each city's data (digital twin, zoning, catalogue) loaded through the
platform's public HTTP APIs by `oup demo seed`. Not a MIM: like the command line it may use the
permit check's pure converters (IMRO, parcels, CityJSON), never a service's app."""
