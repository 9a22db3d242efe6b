"""The marketplace's revisions; a package only so that installs ship these files."""
