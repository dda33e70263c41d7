FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected at build time with hashed names (whitenoise serves them);
# the key below exists only for this step and is never used at run time.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-build-key python manage.py collectstatic --noinput \
    && useradd --create-home --uid 10001 finops \
    && mkdir -p /app/media && chown finops /app/media
USER finops

EXPOSE 8000
# gunicorn takes its worker count from WEB_CONCURRENCY (set here to 3; the environment overrides it).
ENV WEB_CONCURRENCY=3
CMD ["gunicorn", "finops.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
