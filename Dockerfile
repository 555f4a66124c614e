# cutover built from this repository on Debian 12, the distribution it is developed and tested on.
FROM debian:12.8 AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake pkg-config librdkafka-dev libpqxx-dev libpq-dev libboost-dev libssl-dev \
      nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY include include
COPY src src
# The image holds no git: name the commit with --build-arg CUTOVER_COMMIT=$(git rev-parse --short=12 HEAD).
ARG CUTOVER_COMMIT=unknown
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCUTOVER_BUILD_TESTS=OFF -DCUTOVER_COMMIT="${CUTOVER_COMMIT}" \
    && cmake --build build -j"$(nproc)" --target cutover \
    && strip --strip-unneeded build/cutover

FROM debian:12.8-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      librdkafka1 libpqxx-6.4 libpq5 libyaml-cpp0.7 libspdlog1.10 libfmt9 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home cutover \
    && mkdir /home/cutover/state && chown cutover /home/cutover/state
COPY --from=build /src/build/cutover /usr/local/bin/cutover
USER cutover
WORKDIR /home/cutover
ENTRYPOINT ["cutover"]
CMD ["--help"]
