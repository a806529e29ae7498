# Multi-stage build: the same steps as the Makefile (venv, install, collectstatic), no dev tools.
FROM python:3.13-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /venv
COPY pyproject.toml ./
COPY studio ./studio
RUN /venv/bin/pip install .
# daily-js at the version package-lock.json pins (npm ci checks the tarball's integrity); the
# studio serves it from its static files. Node.js stays in this stage only.
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
COPY manage.py ./
COPY templates ./templates
COPY static ./static
RUN DEBUG=false SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-000000 \
    /venv/bin/python manage.py collectstatic --noinput -v 0

FROM python:3.13-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DEBUG=false PORT=8000
RUN useradd --create-home --uid 10001 studio
WORKDIR /app
COPY --from=build /venv /venv
COPY --from=build /app /app
RUN mkdir -p /app/data /app/media && chown studio:studio /app/data /app/media
USER studio
ENV STUDIO_DATA_DIR=/app/data MEDIA_ROOT=/app/media
EXPOSE 8000
# Migrate, make sure the admin from STUDIO_ADMIN_USERNAME/PASSWORD exists, then serve ASGI.
# X-Forwarded-For/-Proto count only from the proxies in FORWARDED_ALLOW_IPS (uvicorn reads it;
# default 127.0.0.1): set it to your load balancer's address, never '*', or any client could
# pick the address that sign-in throttling and the audit log see. --ws-max-size: websocket
# messages over 64 KiB are refused unread (a relayed in-room event is at most 4,096 characters).
# permessage-deflate is off, as in `make run` (bench/RESULTS.md, "Fan-out, third pass").
CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py ensure_admin && exec uvicorn studio.asgi:application --host 0.0.0.0 --port $PORT --lifespan on --ws websockets-sansio --ws-max-size 65536 --ws-per-message-deflate false --proxy-headers"]
