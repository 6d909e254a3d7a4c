"""`dcp-upload upload`'s machinery: local files and their first pass (`files`), the part scheduler
(`runner`), the two ways in (`s3`: the area's credentials; `sessions`: upload sessions through the
API) and what the user sees (`progress`)."""
