"""A price API server on 127.0.0.1 for ``mlx price --refresh``: Azure's Retail Prices API
and the AWS Price List Bulk API's SageMaker file, in their documented formats.

- Azure (https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices):
  ``GET /api/retail/prices?$filter=<OData>`` answers ``{"BillingCurrency", "CustomerEntityId",
  "CustomerEntityType", "Items": [...], "NextPageLink": <url or null>, "Count": n}``, at most
  1,000 items a page (``page_size`` here, smaller, so paging is exercised), the next page
  reached by following ``NextPageLink`` (``$skip``). The filter is applied: ``serviceName``,
  ``priceType`` and ``armRegionName`` equalities joined by ``and``; anything else is a 400.
- AWS (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html):
  ``GET /offers/v1.0/aws/AmazonSageMaker/current/<region>/index.json`` answers the service
  price list file: ``formatVersion``, ``offerCode``, ``publicationDate``, ``products`` by SKU
  (``attributes.usagetype`` such as ``USE1-Train:ml.m5.xlarge``) and ``terms.OnDemand`` by
  SKU, each term's ``priceDimensions`` with ``unit`` ``Hrs`` and ``pricePerUnit.USD``.

``damage`` makes the next answers of one API unusable (``"azure"``: a page without
``Items``; ``"aws"``: a body cut short), as a proxy or an outage would.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

_CLAUSE = re.compile(r"^\s*(serviceName|priceType|armRegionName)\s+eq\s+'([^']*)'\s*$")
_AWS_PATH = re.compile(r"^/offers/v1\.0/aws/AmazonSageMaker/current/([a-z0-9-]+)/index\.json$")
_AWS_PREFIX = {"us-east-1": "USE1", "us-west-2": "USW2", "eu-west-1": "EU"}


class PriceServer:
    """Serves ``azure_items`` (Retail Prices items) and ``aws_prices`` (region -> type ->
    hourly on-demand training price); records every request path."""

    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self.azure_items: list[dict[str, Any]] = []
        self.aws_prices: dict[str, dict[str, float]] = {}
        self.damage: Optional[str] = None
        self.requests: list[str] = []
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        port = self._http.server_address[1]
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    def azure_vm(
        self, size: str, price: float, region: str = "eastus", sku: str = "", **fields: Any
    ) -> None:
        """One Linux pay-as-you-go item (``sku``: ``" Spot"``, ``" Low Priority"``)."""
        short = size.replace("Standard_", "").replace("_", " ")
        self.azure_items.append(
            {
                "currencyCode": "USD",
                "tierMinimumUnits": 0.0,
                "retailPrice": price,
                "unitPrice": price,
                "armRegionName": region,
                "location": region,
                "effectiveStartDate": "2026-11-01T00:00:00Z",
                "meterId": f"meter-{len(self.azure_items)}",
                "meterName": short + sku,
                "productId": "DZH318Z0BQ4L",
                "skuId": f"DZH318Z0BQ4L/{len(self.azure_items)}",
                "productName": "Virtual Machines Series",
                "skuName": short + sku,
                "serviceName": "Virtual Machines",
                "serviceId": "DZH313Z7MMC8",
                "serviceFamily": "Compute",
                "unitOfMeasure": "1 Hour",
                "type": "Consumption",
                "isPrimaryMeterRegion": True,
                "armSkuName": size,
                **fields,
            }
        )

    # -- answers ---------------------------------------------------------------------------

    def _azure(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        filters = query.get("$filter")
        if not filters:
            return 400, {"Error": "a $filter is required by this test server"}
        wanted: dict[str, str] = {}
        for clause in filters[0].split(" and "):
            match = _CLAUSE.match(clause)
            if not match:
                return 400, {"Error": f"unsupported filter clause {clause!r}"}
            wanted[match.group(1)] = match.group(2)
        items = [
            item
            for item in self.azure_items
            if all(item.get("type" if k == "priceType" else k) == v for k, v in wanted.items())
        ]
        skip = int((query.get("$skip") or ["0"])[0])
        page = items[skip : skip + self.page_size]
        following = skip + self.page_size
        link = None
        if following < len(items):
            link = f"{self.url}/api/retail/prices?" + urllib.parse.urlencode(
                {"$filter": filters[0], "$skip": following}
            )
        if self.damage == "azure":
            return 200, {"Message": "upstream error", "NextPageLink": None}
        return 200, {
            "BillingCurrency": "USD",
            "CustomerEntityId": "Default",
            "CustomerEntityType": "Retail",
            "Items": page,
            "NextPageLink": link,
            "Count": len(page),
        }

    def _aws(self, region: str) -> tuple[int, Any]:
        prices = self.aws_prices.get(region)
        if prices is None:
            return 404, {"message": "Not Found"}
        prefix = _AWS_PREFIX.get(region, region.upper())
        products: dict[str, Any] = {}
        terms: dict[str, Any] = {}
        for number, (instance, price) in enumerate(sorted(prices.items())):
            for kind, usage in (("Train", "Training"), ("Host", "Hosting")):
                sku = f"SKU{number}{kind.upper()}"
                products[sku] = {
                    "sku": sku,
                    "productFamily": "ML Instance",
                    "attributes": {
                        "servicecode": "AmazonSageMaker",
                        "regionCode": region,
                        "instanceName": instance,
                        "component": usage,
                        "usagetype": f"{prefix}-{kind}:{instance}",
                        "operation": "RunInstance",
                    },
                }
                rate = price if kind == "Train" else price * 1.5  # hosting must not be taken
                terms[sku] = {
                    f"{sku}.JRTCKXETXF": {
                        "offerTermCode": "JRTCKXETXF",
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                                "description": f"${rate} per {kind} {instance} hour",
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": f"{rate:.10f}"},
                            }
                        },
                        "termAttributes": {},
                    }
                }
        return 200, {
            "formatVersion": "v1.0",
            "disclaimer": "test server",
            "offerCode": "AmazonSageMaker",
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
            "products": products,
            "terms": {"OnDemand": terms},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                parsed = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(parsed.query)
                aws = _AWS_PATH.match(parsed.path)
                if parsed.path == "/api/retail/prices":
                    status, body = server._azure(query)
                elif aws:
                    status, body = server._aws(aws.group(1))
                else:
                    status, body = 404, {"message": "Not Found"}
                data = json.dumps(body).encode()
                if aws and server.damage == "aws":
                    data = data[: len(data) // 2]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
