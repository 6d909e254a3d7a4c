"""Deploy the upload service: build the artifacts, then plan or apply a stage's Terraform (DESIGN §9).

`python -m deploy <stage> plan|apply|destroy`; `python -m deploy.dist` builds the artifacts alone.
"""
