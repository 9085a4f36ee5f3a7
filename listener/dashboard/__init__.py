"""The web dashboard for analysts (``listener dashboard``): server-rendered pages and inline SVG
charts, every asset bundled in the package (it works without internet)."""
