"""Gateway revisions; a package only so that installs ship these files."""
