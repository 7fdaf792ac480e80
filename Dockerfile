# The platform's one image: SageMaker serving (`serve`), training (`train`) and processing steps
# (`python -m securebank.training.MODULE`). Build: docker build -t securebank .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /opt/securebank
COPY pyproject.toml constraints.txt README.md ./
COPY securebank ./securebank
COPY features ./features
COPY training ./training
COPY pipelines ./pipelines
COPY inference ./inference
COPY lambda ./lambda
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 1000 model
USER model
EXPOSE 8080
ENTRYPOINT ["securebank-container"]
CMD ["serve"]
