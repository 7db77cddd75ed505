"""Serving the trained model: SageMaker's hosting contract (`docker run IMAGE serve`).

model.py loads model.keras and metadata.json and turns recordings into the task's
answers (task.py); payload.py reads request bodies and writes answers; app.py is the WSGI
application on /ping and /invocations; server.py runs it in gunicorn, set up from the
environment SageMaker passes.
"""
