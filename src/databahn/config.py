"""Settings, read from the environment (prefix DATABAHN_) with embedded defaults.

With nothing configured the hub runs on SQLite + local files under `./databahn-data`;
setting DATABAHN_DATABASE_URL and DATABAHN_STORAGE_URL switches to PostgreSQL + S3.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DATABAHN_", extra="ignore")

    home: Path = Field(Path("databahn-data"), description="where the embedded database and files live")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite:///$HOME/databahn.db")
    storage_url: str | None = Field(None, description="blob store URL; default $HOME/files")
    base_url: str = Field("http://127.0.0.1:8000", description="public URL of the hub, for links")
    hub_name: str = "Databahn"
    publisher: str = Field("Databahn", description="publisher name in citations and exports")
    ontology_dir: Path | None = None
    max_chunk_bytes: int = Field(64 * 1024 * 1024, description="largest accepted upload chunk")
    upload_chunk_bytes: int = Field(8 * 1024 * 1024, description="chunk size suggested to clients")
    background_jobs: bool = Field(True, description="run background work in-process (embedded)")
    secret_key: str | None = Field(None, description="signs session cookies; generated under $HOME if unset")

    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            return url
        return f"sqlite:///{self.resolved_home() / 'databahn.db'}"

    @property
    def is_embedded(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")
