-- A name to show for an account (the app's sign-up form asks for one); the username stays the
-- sign-in name.
ALTER TABLE users ADD COLUMN display_name TEXT;
