# One image for every service; the Deployment picks the module (python -m services.<name>).
FROM python:3.11-slim
RUN useradd --uid 10001 --create-home craftkit
WORKDIR /app
COPY pyproject.toml README.md ./
COPY craftkit craftkit
COPY services services
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER 10001
ENV PYTHONUNBUFFERED=1
