"""The later stages: places, faces and labels, run on photos that are already in the catalog
(so a photo is visible before they are done), each with its own version, loaded lazily."""
